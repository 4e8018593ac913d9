"""Alignment's reference: the model's movement over its last rounds, walked back along the results'
`base_cid` links, from public files alone."""

from __future__ import annotations

import numpy as np
import pytest

from protocol.aggregate import recent_movement
from protocol.artifacts import Artifact, decode_artifact, encode_artifact, model_metadata, update_metadata
from storage.cid import Cid
from storage.hashing import cid_of_bytes
from storage.store import ContentNotFoundError


class Files:
    """Bytes by CID, counting what was fetched."""

    def __init__(self) -> None:
        self.files: dict[Cid, bytes] = {}
        self.fetched: list[Cid] = []

    def add(self, data: bytes) -> Cid:
        cid = cid_of_bytes(data)
        self.files[cid] = data
        return cid

    def fetch(self, cid: Cid) -> bytes:
        self.fetched.append(cid)
        if cid not in self.files:
            raise ContentNotFoundError(f"{cid} is not in the store")
        return self.files[cid]


def _history(files: Files, length: int) -> list[Artifact]:
    """Models 0 .. length - 1, each the result of a round on the one before; weights w = round number."""
    models, parent = [], None
    for round_id in range(length):
        tensors = {"w": np.full(4, float(round_id), np.float32), "b": np.full(2, -float(round_id), np.float32)}
        data = encode_artifact(tensors, model_metadata("x", round_id, 10, parent, {}))
        parent = files.add(data)
        models.append(decode_artifact(data))
    return models


def test_the_movement_spans_the_last_rounds_and_starts_at_the_oldest_model_there_is() -> None:
    files = Files()
    models = _history(files, 6)
    moved = recent_movement(models[5], 3, files.fetch)
    assert moved is not None and moved["w"].tolist() == [3.0] * 4 and moved["b"].tolist() == [-3.0] * 2
    assert len(files.fetched) == 3  # one file a round back
    short = recent_movement(models[2], 3, files.fetch)
    assert short is not None and short["w"].tolist() == [2.0] * 4  # only two rounds behind it
    assert recent_movement(models[0], 3, files.fetch) is None  # a first model has not moved


def test_the_walk_stops_at_a_file_that_is_not_a_model_of_the_same_tensors() -> None:
    files = Files()
    models = _history(files, 2)
    update = files.add(encode_artifact({"w": np.ones(4, np.float32), "b": np.ones(2, np.float32)},
                                       update_metadata("x", 1, 10, cid_of_bytes(b"x"))))
    other = files.add(encode_artifact({"v": np.ones(3, np.float32)}, model_metadata("y", 0, 10, None, {})))
    for parent in (update, other):
        child = decode_artifact(encode_artifact(models[1].tensors, model_metadata("x", 2, 10, parent, {})))
        assert recent_movement(child, 3, files.fetch) is None


def test_an_unreachable_earlier_model_is_an_outage_not_a_first_round() -> None:
    files = Files()
    models = _history(files, 3)
    del files.files[cid_of_bytes(encode_artifact(models[0].tensors, models[0].metadata))]
    with pytest.raises(ContentNotFoundError):
        recent_movement(models[2], 3, files.fetch)
