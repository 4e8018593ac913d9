"""The embedded store and an IPFS daemon give Kubo's CIDs for the same bytes, and return them intact."""

from __future__ import annotations

from pathlib import Path

import aleph_cid
import numpy as np
import pytest

from storage.cid import Cid
from storage.embedded import EmbeddedStore
from storage.hashing import StreamingCid, cid_of_bytes, cid_of_file
from storage.ipfs_daemon import IpfsHttpStore

CHUNK = 256 * 1024
SIZES = {
    "empty": 0,
    "one-byte": 1,
    "one-chunk": CHUNK,
    "chunk-plus-one": CHUNK + 1,
    "20MB": 20_000_000,
    "two-level-tree": 175 * CHUNK + 1,  # more leaves than one node's 174 links
}
KNOWN = {
    b"": "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH",
    b"hello world": "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD",
}


def payload(size: int) -> bytes:
    return np.random.default_rng(size).bytes(size)


@pytest.mark.parametrize(("data", "expected"), KNOWN.items())
def test_known_kubo_cids(data: bytes, expected: str, embedded_store: EmbeddedStore) -> None:
    assert aleph_cid.compute_cid(data) == expected
    assert str(cid_of_bytes(data)) == expected
    assert str(embedded_store.add_bytes(data)) == expected


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_embedded_and_daemon_agree(
    size: int, tmp_path: Path, embedded_store: EmbeddedStore, daemon_store: IpfsHttpStore
) -> None:
    data = payload(size)
    source = tmp_path / "payload.bin"
    source.write_bytes(data)

    cid = embedded_store.add_file(source)
    assert daemon_store.add_file(source) == cid
    assert cid_of_file(source) == cid
    assert embedded_store.get(cid) == data
    assert daemon_store.get(str(cid)) == data
    assert embedded_store.size(cid) == daemon_store.size(cid) == size


@pytest.mark.parametrize("size", [0, 1, CHUNK + 1])
def test_add_bytes_matches_add_file(
    size: int, tmp_path: Path, embedded_store: EmbeddedStore, daemon_store: IpfsHttpStore
) -> None:
    data = payload(size)
    source = tmp_path / "payload.bin"
    source.write_bytes(data)
    cid = embedded_store.add_bytes(data)
    assert cid == embedded_store.add_file(source) == daemon_store.add_bytes(data)


def test_streaming_hash_ignores_how_bytes_are_split() -> None:
    data = payload(3 * CHUNK + 17)
    hasher = StreamingCid()
    for start in range(0, len(data), 1000):
        hasher.update(data[start : start + 1000])
    assert hasher.finalize() == cid_of_bytes(data) == Cid.parse(aleph_cid.compute_cid(data))
