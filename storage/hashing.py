"""Kubo-identical CIDs (`ipfs add` defaults: CIDv0, 256 KiB chunks, balanced DAG) computed locally.

Every store checks content against these, so a CID means the same bytes everywhere: in the
embedded store, in any IPFS daemon and on any gateway.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import aleph_cid

from storage.cid import Cid

READ_CHUNK = 1 << 20


def cid_of_bytes(data: bytes) -> Cid:
    return Cid.parse(aleph_cid.compute_cid(bytes(data)))


class StreamingCid:
    """Feed bytes in any pieces, then read the CID: hashes a file while it is copied or uploaded."""

    def __init__(self) -> None:
        self._hasher = aleph_cid.CidHasher.for_ipfs()

    def update(self, data: bytes) -> None:
        self._hasher.update(data)

    def finalize(self) -> Cid:
        return Cid.parse(self._hasher.finalize())


def read_chunks(path: Path, chunk_size: int = READ_CHUNK) -> Iterator[bytes]:
    """The file's bytes in pieces, so large files are never held in memory at once."""
    with Path(path).open("rb") as file:
        while chunk := file.read(chunk_size):
            yield chunk


def cid_of_file(path: Path) -> Cid:
    hasher = StreamingCid()
    for chunk in read_chunks(path):
        hasher.update(chunk)
    return hasher.finalize()
