"""A content store backed by an IPFS daemon's HTTP RPC API (Kubo, or js-ipfs in our tests).

The daemon is trusted for nothing: the CID it reports for an add is checked against the CID we
compute, and every byte string it returns is checked against the CID asked for. Connection
failures are retried with exponential backoff, then reported with the daemon's address.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar

import ipfshttpclient
from ipfshttpclient import exceptions as ipfs_errors
from ipfshttpclient.http_common import multiaddr_to_url_data

from storage.bounded_http import capped_chunks, capped_download, fetch_content, stream_content, with_retries
from storage.cid import Cid
from storage.hashing import READ_CHUNK, StreamingCid, cid_of_bytes
from storage.store import (
    ContentNotFoundError,
    ContentStore,
    ContentStream,
    ContentVerificationError,
    StorageError,
    StoreUnavailableError,
    as_cid,
    verified,
    within_cap,
)

T = TypeVar("T")

# ipfshttpclient 0.7.0 passes urllib3 2.x a `strict` argument on every request; urllib3 warns each time.
warnings.filterwarnings("ignore", message="The 'strict' parameter is no longer needed", category=FutureWarning)

# Kubo's `ipfs add` defaults, spelled out so a daemon configured otherwise cannot change the CIDs.
_ADD_OPTIONS = {"pin": "true", "cid-version": "0", "chunker": "size-262144", "raw-leaves": "false"}


def http_multiaddr(multiaddr: str) -> str:
    """The API address with its `/http` protocol, which ipfshttpclient needs to speak HTTP."""
    multiaddr = multiaddr.rstrip("/")
    return multiaddr if multiaddr.endswith(("/http", "/https")) else multiaddr + "/http"


class IpfsHttpStore(ContentStore):
    """Content on an IPFS daemon at `multiaddr`; pins what it adds and verifies what it fetches.

    `timeout` bounds each request (a CID nobody provides fails after it as not found);
    `attempts` and `backoff` set how long an unreachable daemon is retried.
    """

    def __init__(self, multiaddr: str, *, timeout: float = 30.0, attempts: int = 4, backoff: float = 0.25):
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {attempts}")
        self.address = http_multiaddr(multiaddr)
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        try:
            # Client(), not connect(): connect() rejects js-ipfs, which reports version 0.18.1.
            self._client = ipfshttpclient.Client(self.address, timeout=timeout)
        except ipfs_errors.AddressError as error:
            raise ValueError(f"invalid IPFS daemon address {multiaddr!r}: {error}") from None

    def __repr__(self) -> str:
        return f"IpfsHttpStore({self.address!r})"

    def _call(self, action: str, request: Callable[[], T], cid: Cid | None = None) -> T:
        """Run one API request, retrying only failures to connect; map errors to StorageError types."""
        try:
            return with_retries(request, retry_on=ipfs_errors.ConnectionError, attempts=self.attempts,
                                backoff=self.backoff, unreachable=f"cannot reach the IPFS daemon at {self.address} "
                                                                  f"to {action}")
        except ipfs_errors.TimeoutError:
            if cid is not None:
                raise ContentNotFoundError(
                    f"the IPFS daemon at {self.address} did not deliver {cid} within {self.timeout:g}s"
                ) from None
            raise StoreUnavailableError(
                f"the IPFS daemon at {self.address} did not answer within {self.timeout:g}s to {action}"
            ) from None
        except ipfs_errors.ErrorResponse as error:
            if cid is not None and "not found" in str(error).lower():
                raise ContentNotFoundError(f"the IPFS daemon at {self.address} has no {cid}: {error}") from None
            raise StorageError(f"the IPFS daemon at {self.address} failed to {action}: {error}") from None
        except ipfs_errors.Error as error:
            raise StorageError(f"the IPFS daemon at {self.address} failed to {action}: {error}") from None

    def _check_added(self, returned: str, expected: Cid) -> Cid:
        if returned != str(expected):
            raise ContentVerificationError(
                f"the IPFS daemon at {self.address} stored content under {returned}, but its CID is {expected}"
            )
        return expected

    def add_bytes(self, data: bytes) -> Cid:
        data = bytes(data)
        returned = self._call("add", lambda: self._client.add_bytes(data, opts=_ADD_OPTIONS))
        return self._check_added(returned, cid_of_bytes(data))

    def add_file(self, path: Path) -> Cid:
        with Path(path).open("rb") as file:

            def upload() -> tuple[str, Cid]:
                file.seek(0)
                hasher = StreamingCid()
                returned = self._client.add_bytes(_hashed_chunks(file, hasher), opts=_ADD_OPTIONS)
                return returned, hasher.finalize()

            returned, expected = self._call("add", upload)
        return self._check_added(returned, expected)

    def get(self, cid: Cid | str) -> bytes:
        cid = as_cid(cid)
        data = self._call(f"cat {cid}", lambda: self._client.cat(str(cid)), cid)
        return verified(cid, data, f"the IPFS daemon at {self.address}")

    def get_bounded(self, cid: Cid | str, max_bytes: int, seconds: float) -> bytes:
        """Stream `cat`, asking for at most max_bytes + 1 bytes, and stop at the first byte past the
        limit; a watchdog shuts the connection when `seconds` run out, so a daemon that drip-feeds
        bytes cannot hold us however slowly it sends."""
        cid = as_cid(cid)
        params = {"arg": str(cid), "length": str(max_bytes + 1)}
        return fetch_content(cid, f"the IPFS daemon at {self.address}", "cat",
                             lambda: capped_download("POST", self._api_url("cat"), params, max_bytes, seconds,
                                                     read_timeout=seconds),
                             max_bytes=max_bytes, within=seconds, attempts=self.attempts, backoff=self.backoff)

    def stream_bounded(self, cid: Cid | str, max_bytes: int, seconds: float) -> ContentStream:
        """The size from `files stat` checked first, then `cat` streamed asking for one byte past it:
        a daemon that sends more than it declared is cut off there."""
        cid = as_cid(cid)
        size = within_cap(cid, self.size(cid), max_bytes)
        params = {"arg": str(cid), "length": str(size + 1)}
        return ContentStream(size, stream_content(
            cid, f"the IPFS daemon at {self.address}", "cat",
            lambda: capped_chunks("POST", self._api_url("cat"), params, size, seconds, read_timeout=seconds),
            declared=size, within=seconds, attempts=self.attempts, backoff=self.backoff))

    def _api_url(self, command: str) -> str:
        url, _, _, _ = multiaddr_to_url_data(self.address, "api/v0")
        return url.rstrip("/") + "/" + command

    def pin(self, cid: Cid | str) -> None:
        cid = as_cid(cid)
        self._call(f"pin {cid}", lambda: self._client.pin.add(str(cid)), cid)

    def has(self, cid: Cid | str) -> bool:
        cid = as_cid(cid)

        def pinned() -> bool:
            try:
                self._client.pin.ls(str(cid), type="recursive")
            except ipfs_errors.ErrorResponse as error:
                if "not pinned" in str(error):
                    return False
                raise
            return True

        return self._call(f"look up {cid}", pinned)

    def size(self, cid: Cid | str) -> int:
        cid = as_cid(cid)
        stat = self._call(f"stat {cid}", lambda: self._client.files.stat(f"/ipfs/{cid}"), cid)
        return int(stat["Size"])


def _hashed_chunks(file: BinaryIO, hasher: StreamingCid) -> Iterator[bytes]:
    """Stream a file to the daemon while hashing it, so it is read once and never held whole."""
    while chunk := file.read(READ_CHUNK):
        hasher.update(chunk)
        yield chunk
