from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tasks.fashion_mnist as fashion
from mlprocessor.data import DataError, Dataset, write_idx
from mlprocessor.task_registry import get_task
from tasks.images import TEST_FILES, TRAIN_FILES
from tests.support import require_component
from tests.tasks.checks import assert_logits_shape, assert_one_epoch_lowers_loss, assert_seeded_model

TASK = get_task("fashion-mnist")


@pytest.fixture(scope="module")
def debian_data() -> tuple[Dataset, Dataset]:
    require_component(fashion.DEBIAN_DIRECTORY.is_dir(), "Debian's Fashion-MNIST", fashion.INSTALL_HINT)
    return TASK.load_data()


def test_the_debian_set_is_the_full_fashion_mnist(debian_data: tuple[Dataset, Dataset]) -> None:
    train, test = debian_data
    assert (train.x.shape, test.x.shape) == ((60_000, 784), (10_000, 784))
    assert train.x.dtype == np.float32 and train.x.min() >= 0 and train.x.max() <= 1
    assert np.bincount(train.y).tolist() == [6_000] * 10 and np.bincount(test.y).tolist() == [1_000] * 10


def test_model_is_niid_bench_cnn(debian_data: tuple[Dataset, Dataset]) -> None:
    assert_seeded_model(TASK)
    assert_logits_shape(TASK, debian_data[0])
    assert sum(v.size for v in TASK.initial_state().values()) == 44_426
    assert TASK.tensor_spec()["conv1.weight"] == ((6, 1, 5, 5), "float32")
    assert TASK.tensor_spec()["conv2.weight"] == ((16, 6, 5, 5), "float32")


def test_one_epoch_on_a_slice_lowers_the_loss(debian_data: tuple[Dataset, Dataset]) -> None:
    train, _ = debian_data
    assert_one_epoch_lowers_loss(TASK, train.subset(np.random.default_rng(0).permutation(len(train))[:640]))


def test_missing_debian_data_names_the_apt_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(fashion, "DEBIAN_DIRECTORY", tmp_path / "absent")
    with pytest.raises(DataError, match="apt-get install -y dataset-fashion-mnist"):
        TASK.load_data()


def test_a_directory_of_idx_files_is_read(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for (images, labels), n in ((TRAIN_FILES, 12), (TEST_FILES, 5)):
        write_idx(tmp_path / f"{images}.gz", rng.integers(0, 256, (n, 28, 28)), compress=True)
        write_idx(tmp_path / f"{labels}.gz", rng.integers(0, 10, n), compress=True)
    train, test = TASK.load_data(str(tmp_path))
    assert (len(train), len(test)) == (12, 5)
    assert len(TASK.load_participant_data(tmp_path)) == 12
