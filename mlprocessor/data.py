"""Datasets of examples and labels, and the task-independent readers (IDX, .npz) tasks build on."""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

_HOLDOUT_SEED = 20170217  # fixed forever: every party must hold out the same examples
_IDX_UBYTE = 0x08
_CHUNK_BYTES = 1 << 20

# The one limit on every data file a party reads (its own --data, a task's files): on disk, after
# decompression (gzip, an .npz member) and for any array a header declares. A data file is local but
# not necessarily trusted (downloaded, shared, generated): this keeps a crafted one from exhausting
# memory. Generous next to real data (MNIST's 60,000 training images are 47 MB uncompressed).
MAX_DATA_BYTES = 512 << 20


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


def open_regular_file(path: str | Path, max_bytes: int = MAX_DATA_BYTES) -> BinaryIO:
    """`path` opened for reading if it is a regular file of at most `max_bytes`; a FIFO, device or
    directory is refused without blocking (opened non-blocking, then checked on the descriptor)."""
    path = Path(path)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise DataError(f"data file not found: {path}") from None
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror})") from None
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        os.close(descriptor)
        raise DataError(f"{path}: not a regular file (a FIFO, device or directory is never read as data)")
    if status.st_size > max_bytes:
        os.close(descriptor)
        raise DataError(f"{path}: {status.st_size} bytes, over the limit of {max_bytes} for a data file")
    os.set_blocking(descriptor, True)
    return os.fdopen(descriptor, "rb")


def _content_stream(path: Path, raw: BinaryIO) -> BinaryIO:
    """The file's content: gunzipped on the fly when it starts with gzip's magic number."""
    magic = raw.read(2)
    raw.seek(0)
    return gzip.GzipFile(fileobj=raw, mode="rb") if magic == b"\x1f\x8b" else raw


def _read(path: Path, stream: BinaryIO, size: int) -> bytes:
    """At most `size` bytes of `stream`, read in chunks, so memory follows the data actually there."""
    data = bytearray()
    try:
        while len(data) < size and (chunk := stream.read(min(_CHUNK_BYTES, size - len(data)))):
            data += chunk
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: corrupt compressed data ({error})") from None
    return bytes(data)


def _read_at_most(path: Path, stream: BinaryIO, limit: int, what: str) -> bytes:
    """The rest of `stream` if it is at most `limit` bytes; DataError as soon as it is longer, so a
    decompression bomb is never expanded past the limit."""
    data = _read(path, stream, limit + 1)
    if len(data) > limit:
        raise DataError(f"{path}: holds more than {what} ({limit} bytes); refused")
    return bytes(data)


def read_data_file(path: str | Path, max_bytes: int = MAX_DATA_BYTES) -> bytes:
    """A regular file's content (gunzipped when gzipped), refused beyond `max_bytes` on disk or
    after decompression: the bounded reader every task's data reader (CSV, text) starts from."""
    path = Path(path)
    with open_regular_file(path, max_bytes) as raw:
        return _read_at_most(path, _content_stream(path, raw), max_bytes, "the limit for a data file")


def read_data_text(path: str | Path, max_bytes: int = MAX_DATA_BYTES) -> str:
    """A regular file's UTF-8 text (gunzipped when gzipped), bounded as `read_data_file` reads it."""
    try:
        return read_data_file(path, max_bytes).decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None


def data_files(directory: Path, pattern: str) -> list[Path]:
    """The regular files of `directory` matching `pattern`, in name order: FIFOs, devices and
    subdirectories are not data and are never opened."""
    return [p for p in sorted(directory.glob(pattern)) if p.is_file()]  # stat's S_ISREG; False when dangling


def read_idx(path: str | Path) -> np.ndarray:
    """Read an unsigned-byte IDX file (optionally gzipped), checking its magic number and that the
    shape its header promises fits the limits before reading (or allocating) the data."""
    path = Path(path)
    with open_regular_file(path) as raw:
        stream = _content_stream(path, raw)
        head = _read(path, stream, 4)
        if len(head) < 4 or head[0] != 0 or head[1] != 0:
            raise DataError(f"{path}: not an IDX file (bad magic number)")
        if head[2] != _IDX_UBYTE:
            raise DataError(f"{path}: IDX element type 0x{head[2]:02x} is not unsigned byte (0x08)")
        ndim = head[3]
        dims_bytes = _read(path, stream, 4 * ndim)
        if ndim == 0 or len(dims_bytes) < 4 * ndim:
            raise DataError(f"{path}: truncated IDX header")
        dims = struct.unpack(f">{ndim}I", dims_bytes)
        expected = math.prod(dims)  # Python integers: a product of four 32-bit sizes cannot overflow
        if expected > MAX_DATA_BYTES:
            raise DataError(f"{path}: header promises {expected} bytes of data for shape {dims}, "
                            f"over the limit of {MAX_DATA_BYTES}")
        if stream is raw and (on_disk := os.fstat(raw.fileno()).st_size - 4 - 4 * ndim) != expected:
            raise DataError(f"{path}: header promises {expected} bytes of data for shape {dims}, file has {on_disk}")
        payload = _read_at_most(path, stream, expected, f"the {expected} bytes its header promises")
    if len(payload) != expected:
        raise DataError(f"{path}: header promises {expected} bytes of data for shape {dims}, file has {len(payload)}")
    return np.frombuffer(payload, dtype=np.uint8).reshape(dims)


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
    if path.is_dir():
        files = data_files(path, "*")
    elif path.exists():
        files = [path]
        open_regular_file(path).close()  # a FIFO or device is refused here, never read
    else:
        raise DataError(f"data file or directory not found: {path}")
    return tuple((p.name, (s := p.stat()).st_size, s.st_mtime_ns) for p in files)


def load_npz_arrays(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Arrays `x` and `y` of an .npz file, never unpickling anything, and never inflating a member
    or allocating an array past MAX_DATA_BYTES: the zip's declared sizes and each array's header
    (shape and dtype) are checked before any data is read."""
    with open_regular_file(path) as raw:
        try:
            with zipfile.ZipFile(raw) as archive:
                members = {info.filename: info for info in archive.infolist()}
                if "x.npy" not in members or "y.npy" not in members:
                    raise DataError(f"{path}: an .npz data file needs arrays 'x' and 'y'")
                declared = sum(members[name].file_size for name in ("x.npy", "y.npy"))
                if declared > MAX_DATA_BYTES:
                    raise DataError(f"{path}: its arrays expand to {declared} bytes, "
                                    f"over the limit of {MAX_DATA_BYTES}")
                return _npz_member(path, archive, "x"), _npz_member(path, archive, "y")
        except DataError:
            raise
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, ValueError) as error:
            raise DataError(f"{path}: not a readable .npz file ({error})") from None


def _npz_member(path: Path, archive: zipfile.ZipFile, name: str) -> np.ndarray:
    """One array of an .npz, its header checked against the member's declared size before allocating."""
    info = archive.getinfo(f"{name}.npy")
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version not in ((1, 0), (2, 0), (3, 0)):
            raise DataError(f"{path}: array '{name}' has an unknown .npy format version {version}")
        header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = header(member)
        if dtype.hasobject:  # numpy's advice to allow pickle would be the wrong one
            raise DataError(f"{path}: array '{name}' holds Python objects (a pickle), which are never loaded")
        size = math.prod(shape) * dtype.itemsize
        if size > info.file_size:
            raise DataError(f"{path}: array '{name}' declares shape {shape} of {dtype} ({size} bytes), "
                            f"more than its {info.file_size} bytes in the archive")
        buffer = bytearray(size)
        filled = 0
        while filled < size and (chunk := member.read(min(_CHUNK_BYTES, size - filled))):
            buffer[filled:filled + len(chunk)] = chunk
            filled += len(chunk)
        if filled != size:
            raise DataError(f"{path}: array '{name}' is truncated ({filled} of {size} bytes)")
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order="F" if fortran_order else "C")
