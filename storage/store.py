"""The content store interface every backend implements, and its errors.

Callers (organization, clients, verify) only see `ContentStore`; whether bytes live on local
disk or in an IPFS daemon is a command-line choice (`--ipfs embedded|MULTIADDR`) that
`storage.factory.open_store` turns into a backend. This module depends on no backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from storage.cid import Cid, InvalidCidError, as_cid
from storage.hashing import cid_of_bytes

__all__ = [
    "Cid",
    "ContentNotFoundError",
    "ContentStore",
    "ContentTooLargeError",
    "ContentVerificationError",
    "InvalidCidError",
    "StorageError",
    "StoreUnavailableError",
    "as_cid",
    "verified",
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
        raise ContentVerificationError(
            f"content for {cid} from {source} does not match its CID: {len(data)} bytes hash to {actual}"
        )
    return data


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
        size = self.size(cid)
        if size > max_bytes:
            raise ContentTooLargeError(f"{as_cid(cid)} is {size} bytes, over the limit of {max_bytes}")
        return self.get(cid)
