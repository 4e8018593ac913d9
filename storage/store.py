"""The content store interface every backend implements, and its errors.

Callers (organization, clients, verify) only see `ContentStore`; whether bytes live on local
disk or in an IPFS daemon is a command-line choice (`--ipfs embedded|MULTIADDR`) that
`storage.factory.open_store` turns into a backend. This module depends on no backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from storage.cid import Cid, InvalidCidError, as_cid
from storage.hashing import StreamingCid, cid_of_bytes

STREAM_CHUNK = 64 * 1024  # the largest piece a streamed read yields (and holds) at once

__all__ = [
    "STREAM_CHUNK",
    "Cid",
    "ContentNotFoundError",
    "ContentStore",
    "ContentStream",
    "ContentTooLargeError",
    "ContentVerificationError",
    "InvalidCidError",
    "StorageError",
    "StoreUnavailableError",
    "as_cid",
    "verified",
    "verified_chunks",
    "within_cap",
]


class StorageError(Exception):
    """Base of every content store failure."""


class ContentNotFoundError(StorageError):
    """The store does not hold (or could not retrieve) the content of a CID."""


class ContentTooLargeError(StorageError):
    """The content is larger than the caller accepts; it was not downloaded in full."""


class ContentVerificationError(StorageError):
    """Bytes did not hash to the CID they were fetched or stored under; they are never returned."""


class StoreUnavailableError(StorageError):
    """The store's backend (an IPFS daemon) cannot be reached; the message names its address."""


def verified(cid: Cid, data: bytes, source: str) -> bytes:
    """Return `data` only if it hashes to `cid`; `source` says where the bad bytes came from."""
    actual = cid_of_bytes(data)
    if actual != cid:
        raise _mismatch(cid, source, len(data), actual)
    return data


def _mismatch(cid: Cid, source: str, size: int, actual: Cid) -> ContentVerificationError:
    return ContentVerificationError(f"content for {cid} from {source} does not match its CID: "
                                    f"{size} bytes hash to {actual}")


def within_cap(cid: Cid, size: int, max_bytes: int) -> int:
    """`size` if it is at most `max_bytes`, else ContentTooLargeError (the content is not read)."""
    if size > max_bytes:
        raise ContentTooLargeError(f"{cid} is {size} bytes, over the limit of {max_bytes}")
    return size


def verified_chunks(cid: Cid, chunks: Iterable[bytes], declared: int, source: str) -> Iterator[bytes]:
    """`chunks` passed on as they come, stopped at the first byte past the `declared` size, with the
    last piece held back until all of them hash to `cid`: a reader that gets every byte got the right
    file, and bad content ends the stream short with ContentVerificationError."""
    hasher, received, held = StreamingCid(), 0, b""
    for chunk in chunks:
        received += len(chunk)
        if received > declared:
            raise ContentVerificationError(f"{source} sent more than the {declared} bytes it declared for {cid}: "
                                           "the download was stopped there")
        hasher.update(chunk)
        if held:
            yield held
        held = chunk
    if received != declared:
        raise ContentVerificationError(f"{source} sent {received} of the {declared} bytes it declared for {cid}")
    actual = hasher.finalize()
    if actual != cid:
        raise _mismatch(cid, source, received, actual)
    if held:
        yield held


class ContentStream(NamedTuple):
    """Content being read: its declared size (checked against the cap before any byte was read) and
    its bytes in pieces of at most STREAM_CHUNK, verified against the CID as they pass."""

    size: int
    chunks: Iterator[bytes]


class ContentStore(ABC):
    """Content-addressed storage with Kubo-identical CIDs; every read is verified against its CID."""

    @abstractmethod
    def add_bytes(self, data: bytes) -> Cid:
        """Store `data` (pinned) and return its CID."""

    @abstractmethod
    def add_file(self, path: Path) -> Cid:
        """Store a file's bytes (pinned), streaming so a large file is never held in memory twice."""

    @abstractmethod
    def get(self, cid: Cid | str) -> bytes:
        """The content of `cid`, verified; raises ContentNotFoundError or ContentVerificationError."""

    @abstractmethod
    def pin(self, cid: Cid | str) -> None:
        """Keep `cid` in the store for good; raises ContentNotFoundError when it cannot be found."""

    @abstractmethod
    def has(self, cid: Cid | str) -> bool:
        """Whether this store holds (pinned) the content of `cid`, without fetching it."""

    @abstractmethod
    def size(self, cid: Cid | str) -> int:
        """The content's length in bytes, without fetching it (lets callers refuse oversize content)."""

    def get_bounded(self, cid: Cid | str, max_bytes: int, seconds: float) -> bytes:
        """`get` for content from strangers: at most `max_bytes` (ContentTooLargeError, without
        downloading it) and at most `seconds` in total (ContentNotFoundError). Local stores
        answer at once, so this checks the size first; network stores override it."""
        within_cap(as_cid(cid), self.size(cid), max_bytes)
        return self.get(cid)

    @abstractmethod
    def stream_bounded(self, cid: Cid | str, max_bytes: int, seconds: float) -> ContentStream:
        """`get_bounded` for content served on as it is read (a download), never held whole: its
        size is checked against `max_bytes` first (ContentTooLargeError, nothing read), and a missing
        CID raises here (ContentNotFoundError); then reading stops within `seconds` in total and at
        the first byte past the declared size (ContentVerificationError), so nobody is sent more
        than the cap, and the last piece only once the whole matches the CID."""
