from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from mlprocessor.data import DataError, Dataset, read_idx, write_idx
from tasks.images import TEST_FILES, TRAIN_FILES
from tasks.mnist import load_mnist
from tests.support import require_component

SHARED_MNIST = Path(os.environ.get("MNIST_DIR", Path(__file__).resolve().parents[3] / "shared/data/mnist"))


def _write_mnist_dir(directory: Path, n_train: int, n_test: int, compress: bool) -> None:
    rng = np.random.default_rng(0)
    for (images, labels), n in ((TRAIN_FILES, n_train), (TEST_FILES, n_test)):
        suffix = ".gz" if compress else ""
        write_idx(directory / f"{images}{suffix}", rng.integers(0, 256, (n, 28, 28)), compress)
        write_idx(directory / f"{labels}{suffix}", rng.integers(0, 10, n), compress)


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path: Path, compress: bool) -> None:
    array = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    write_idx(tmp_path / "a.idx", array, compress)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), array)


@pytest.mark.parametrize("compress", [False, True])
def test_directory_source_scales_pixels(tmp_path: Path, compress: bool) -> None:
    _write_mnist_dir(tmp_path, 30, 12, compress)
    train, test = load_mnist(str(tmp_path))
    assert (len(train), len(test)) == (30, 12)
    assert train.x.dtype == np.float32 and train.x.shape == (30, 784) and train.y.dtype == np.int64
    assert train.x.min() >= 0.0 and train.x.max() <= 1.0
    pixels = read_idx(tmp_path / (TRAIN_FILES[0] + (".gz" if compress else "")))
    np.testing.assert_allclose(train.x[0] * 255, pixels[0].ravel(), atol=1e-4)


def test_missing_file_is_named(tmp_path: Path) -> None:
    _write_mnist_dir(tmp_path, 5, 5, False)
    (tmp_path / TEST_FILES[1]).unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        load_mnist(str(tmp_path))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x08\x00\x08\x01\x00\x00\x00\x01\x00", "magic"),
        (b"\x00\x00\x0d\x01\x00\x00\x00\x01\x00\x00\x00\x00", "element type"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", "promises 5 bytes"),
    ],
)
def test_malformed_idx(tmp_path: Path, payload: bytes, message: str) -> None:
    (tmp_path / "bad").write_bytes(payload)
    with pytest.raises(DataError, match=message):
        read_idx(tmp_path / "bad")


def test_corrupt_gzip(tmp_path: Path) -> None:
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x02ab")[:-6])
    with pytest.raises(DataError, match="gzip"):
        read_idx(tmp_path / "bad.gz")


def test_count_mismatch(tmp_path: Path) -> None:
    _write_mnist_dir(tmp_path, 5, 5, False)
    write_idx(tmp_path / TRAIN_FILES[1], np.zeros(4, dtype=np.uint8))
    with pytest.raises(DataError, match="5 images but 4 labels"):
        load_mnist(str(tmp_path))


def test_mnist_5k_holds_out_100_per_digit(mnist_5k: tuple[Dataset, Dataset]) -> None:
    train, test = mnist_5k
    assert (len(train), len(test)) == (4000, 1000)
    assert np.bincount(test.y).tolist() == [100] * 10
    assert np.bincount(train.y).tolist() == [400] * 10
    _, again_test = load_mnist()
    np.testing.assert_array_equal(again_test.x, test.x)
    assert not (set(map(bytes, train.x[:50])) & set(map(bytes, test.x)))


def test_shared_mnist_test_set() -> None:
    require_component(all((SHARED_MNIST / f"{n}.gz").exists() for n in TEST_FILES),
                      "the MNIST test set", f"expected in {SHARED_MNIST}")
    train, test = load_mnist("mnist-5k", SHARED_MNIST)
    assert (len(train), len(test)) == (5000, 10000)
    assert test.x.shape == (10000, 784) and np.bincount(test.y).min() > 800
