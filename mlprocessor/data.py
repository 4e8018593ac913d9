"""Datasets of examples and labels, and the task-independent readers (IDX, .npz) tasks build on."""

from __future__ import annotations

import gzip
import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

_HOLDOUT_SEED = 20170217  # fixed forever: every party must hold out the same examples
_IDX_UBYTE = 0x08


@dataclass(frozen=True)
class Dataset:
    """Examples ``x`` (N, ...) of any shape (float32 features, or int64 tokens) and labels ``y`` (N,) int64."""

    x: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if self.x.ndim < 1 or self.y.ndim != 1 or len(self.x) != len(self.y):
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


def task_permutation(task: int, pixels: int) -> np.ndarray:
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


def directory_signature(path: str | Path) -> tuple[tuple[str, int, int], ...]:
    """(name, size, modification time) of the data file, or of each file of the data directory:
    cheap to take every round, and any new, removed or rewritten file changes it."""
    path = Path(path)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = [p for p in sorted(path.iterdir()) if p.is_file()]
    else:
        raise DataError(f"data file or directory not found: {path}")
    return tuple((p.name, (s := p.stat()).st_size, s.st_mtime_ns) for p in files)


def load_npz_arrays(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Arrays `x` and `y` of an .npz file, never unpickling anything."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "x" not in archive or "y" not in archive:
                raise DataError(f"{path}: an .npz data file needs arrays 'x' and 'y'")
            return archive["x"], archive["y"]
    except ValueError as error:
        if "pickle" in str(error).lower():  # numpy's advice to allow pickle would be the wrong one
            raise DataError(f"{path}: holds Python objects (a pickle), which are never loaded") from None
        raise DataError(f"{path}: not a readable .npz file ({error})") from None
    except OSError as error:
        raise DataError(f"{path}: not a readable .npz file ({error})") from None
