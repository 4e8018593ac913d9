"""Crafted local data files (issue 19's table): bombs, overflowing headers and special files are
refused in one line naming the file, within bounded memory and without hanging."""

from __future__ import annotations

import io
import os
import signal
import struct
import tracemalloc
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mlprocessor.data import MAX_DATA_BYTES, DataError, directory_signature, read_data_file, read_idx
from tasks.images import TRAIN_FILES, load_image_directory

_ZEROS = bytes(1 << 20)


def _gzip_of(header: bytes, zero_mib: int) -> bytes:
    """A gzip file of `header` then `zero_mib` MiB of zeros: about a thousandth of that on disk."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [compressor.compress(header)] + [compressor.compress(_ZEROS) for _ in range(zero_mib)]
    return b"".join(parts) + compressor.flush()


def _idx_header(*dims: int) -> bytes:
    return bytes([0, 0, 0x08, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


@pytest.fixture
def peak_memory() -> Iterator[list[int]]:
    """The peak of Python and numpy allocations during the test, in bytes (filled in at the end)."""
    tracemalloc.start()
    peak: list[int] = []
    yield peak
    tracemalloc.stop()


def _peak() -> int:
    return tracemalloc.get_traced_memory()[1]


@pytest.fixture
def never_hang() -> Iterator[None]:
    """A blocking open of a FIFO would wait forever: turn that regression into a failure."""
    def fail(signum: int, frame: object) -> None:
        raise AssertionError("reading the data blocked on a special file")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_gzip_bomb_stops_at_what_the_header_promises(tmp_path: Path, peak_memory: list[int]) -> None:
    bomb = tmp_path / "train-images-idx3-ubyte.gz"
    bomb.write_bytes(_gzip_of(_idx_header(1000, 28, 28), 1024))  # ~1 MB on disk, 1 GiB inflated
    assert bomb.stat().st_size < 3 << 20
    tracemalloc.reset_peak()
    with pytest.raises(DataError) as refused:
        read_idx(bomb)
    assert _peak() < 16 << 20  # the 784,000 promised bytes and a chunk, never the gigabyte
    message = str(refused.value)
    assert "\n" not in message and str(bomb) in message and "784000 bytes its header promises" in message


def test_gzip_bomb_read_as_plain_data_stops_at_the_limit(tmp_path: Path, peak_memory: list[int]) -> None:
    bomb = tmp_path / "table.csv.gz"
    bomb.write_bytes(_gzip_of(b"a,b\n", 64))
    tracemalloc.reset_peak()
    with pytest.raises(DataError, match=r"table\.csv\.gz: holds more than the limit for a data file \(1048576"):
        read_data_file(bomb, max_bytes=1 << 20)
    assert _peak() < 8 << 20
    assert read_data_file(bomb, max_bytes=65 << 20)[:4] == b"a,b\n"


@pytest.mark.parametrize(("dims", "message"), [
    ((0xFFFFFFFF,) * 4, "over the limit of"),  # 2**128: overflows int64, far beyond any memory
    ((60000, 28, 28), "file has 16"),  # the file is far shorter than its header says
])
def test_idx_dimensions_are_checked_before_allocating(tmp_path: Path, dims: tuple[int, ...], message: str,
                                                      peak_memory: list[int]) -> None:
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(_idx_header(*dims) + bytes(16))
    tracemalloc.reset_peak()
    with pytest.raises(DataError, match=message) as refused:
        read_idx(path)
    assert _peak() < 1 << 20 and "\n" not in str(refused.value) and str(path) in str(refused.value)


def _npy_header(shape: tuple[int, ...], dtype: str) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def _npz(path: Path, x_header: bytes, x_zero_mib: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("x.npy", "w", force_zip64=True) as member:
            member.write(x_header)
            for _ in range(x_zero_mib):
                member.write(_ZEROS)
        archive.writestr("y.npy", _npy_header((1,), "<i8") + bytes(8))


def test_npz_declaring_a_huge_array_is_refused_before_allocating(tmp_path: Path, peak_memory: list[int]) -> None:
    path = tmp_path / "a.npz"
    _npz(path, _npy_header((10**6, 10**6), "<f8"), 0)
    tracemalloc.reset_peak()
    with pytest.raises(DataError, match=r"a\.npz: array 'x' declares shape \(1000000, 1000000\)"):
        load_image_directory(path, 28, 10)
    assert _peak() < 1 << 20


def test_npz_member_inflating_past_the_limit_is_refused_unread(tmp_path: Path, peak_memory: list[int]) -> None:
    path = tmp_path / "a.npz"
    zero_mib = MAX_DATA_BYTES // (1 << 20) + 8
    _npz(path, _npy_header((zero_mib << 20,), "|u1"), zero_mib)
    assert path.stat().st_size < 2 << 20
    tracemalloc.reset_peak()
    with pytest.raises(DataError, match=r"a\.npz: its arrays expand to \d+ bytes, over the limit"):
        load_image_directory(tmp_path, 28, 10)
    assert _peak() < 1 << 20


def test_a_pickled_npz_array_is_never_loaded(tmp_path: Path) -> None:
    path = tmp_path / "a.npz"
    _npz(path, _npy_header((1,), "|O"), 0)
    with pytest.raises(DataError, match="a pickle"):
        load_image_directory(path, 28, 10)


def test_special_files_are_refused_without_hanging(tmp_path: Path, never_hang: None) -> None:
    fifo = tmp_path / "a.npz"
    os.mkfifo(fifo)
    for read in (lambda: load_image_directory(fifo, 28, 10), lambda: directory_signature(fifo)):
        with pytest.raises(DataError, match=r"a\.npz: not a regular file"):
            read()
    idx_dir = tmp_path / "idx"
    idx_dir.mkdir()
    os.mkfifo(idx_dir / TRAIN_FILES[0])
    (idx_dir / TRAIN_FILES[1]).write_bytes(_idx_header(1) + bytes(1))
    with pytest.raises(DataError, match=f"{TRAIN_FILES[0]}: not a regular file"):
        load_image_directory(idx_dir, 28, 10)


def test_a_directory_lists_only_its_regular_files(tmp_path: Path, never_hang: None) -> None:
    np.savez(tmp_path / "b.npz", x=np.zeros((2, 28, 28), np.uint8), y=np.array([1, 2]))
    os.mkfifo(tmp_path / "a.npz")
    (tmp_path / "c.npz").mkdir()
    assert len(load_image_directory(tmp_path, 28, 10)) == 2
    assert [name for name, _, _ in directory_signature(tmp_path)] == ["b.npz"]
