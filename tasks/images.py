"""Readers for labelled grayscale image sets (MNIST's and Fashion-MNIST's format): IDX pairs and .npz files.

Shared by the image tasks, and part of their pinned source (their `source_modules`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlprocessor.data import DataError, Dataset, data_files, load_npz_arrays, read_idx

TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def from_pixels(images: np.ndarray, labels: np.ndarray, side: int, classes: int, origin: str) -> Dataset:
    """Flattened (N, side*side) float32 pixels in [0, 1] and int64 labels, after checking both."""
    if images.ndim == 3 and images.shape[1:] != (side, side):
        raise DataError(f"{origin}: images are {images.shape[1:]}, expected {side}x{side}")
    images = images.reshape(len(images), -1)
    if images.shape[1] != side * side or labels.ndim != 1:
        raise DataError(f"{origin}: unexpected shapes images {images.shape}, labels {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{origin}: {len(images)} images but {len(labels)} labels")
    if len(labels) and (labels.min() < 0 or labels.max() >= classes):
        raise DataError(f"{origin}: labels outside 0..{classes - 1}")
    x = (images.astype(np.float32) / np.float32(255.0)).astype(np.float32)
    return Dataset(x, labels.astype(np.int64))


def _find(directory: Path, name: str) -> Path:
    """The file named `name` (or `name`.gz); whatever kind of file it is, read_idx refuses all but regular files."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.exists():
            return candidate
    raise DataError(f"{directory}: missing {name} (or {name}.gz)")


def has_idx(directory: Path, name: str) -> bool:
    return (directory / name).exists() or (directory / f"{name}.gz").exists()


def load_idx_pair(directory: str | Path, names: tuple[str, str], side: int, classes: int) -> Dataset:
    """Load one (images, labels) pair of IDX files from a directory."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"data directory not found: {directory}")
    images, labels = (read_idx(_find(directory, name)) for name in names)
    return from_pixels(images, labels, side, classes, str(directory))


def load_image_npz(path: Path, side: int, classes: int) -> Dataset:
    """An .npz with arrays `x` (uint8 pixels, or floats in [0, 1]) and `y` (integer labels)."""
    images, labels = load_npz_arrays(path)
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{path}: 'y' must hold integer labels")
    if images.dtype != np.uint8:  # floats in [0, 1] are stored back as the pixels they came from
        if not np.issubdtype(images.dtype, np.floating) or (images.size and not 0 <= images.min() <= images.max() <= 1):
            raise DataError(f"{path}: 'x' must be uint8 pixels or floats in [0, 1]")
        images = np.rint(images * 255).astype(np.uint8)
    return from_pixels(images, labels, side, classes, str(path))


def load_image_directory(path: str | Path, side: int, classes: int) -> Dataset:
    """A participant's own images: a single .npz file, or a directory of `*.npz` files and/or the
    IDX training pair, concatenated in file-name order. Every file is read within mlprocessor.data's
    limits, and only regular files are (a FIFO named like data is refused, never waited on)."""
    path = Path(path)
    if path.suffix == ".npz" and not path.is_dir():
        return load_image_npz(path, side, classes)
    if not path.is_dir():
        raise DataError(f"data directory not found: {path}")
    parts = [load_image_npz(file, side, classes) for file in data_files(path, "*.npz")]
    if any(has_idx(path, name) for name in TRAIN_FILES):
        parts.append(load_idx_pair(path, TRAIN_FILES, side, classes))
    if not parts:
        raise DataError(f"{path}: no *.npz file and no {TRAIN_FILES[0]} / {TRAIN_FILES[1]} pair")
    return Dataset(np.concatenate([p.x for p in parts]), np.concatenate([p.y for p in parts]))
