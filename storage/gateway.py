"""A read-only content store on an IPFS HTTP gateway (`GET /ipfs/CID`): for users who can read
from a gateway (a public one, or their node's) but run no daemon API they may write to.

The gateway is trusted for nothing: every byte string is checked against its CID, and downloads
are capped in size and time like the daemon store's. Adding or pinning is refused in one line.
"""

from __future__ import annotations

from pathlib import Path

import requests

from storage.bounded_http import capped_chunks, capped_download, fetch_content, stream_content, with_retries
from storage.cid import Cid
from storage.store import (
    ContentNotFoundError,
    ContentStore,
    ContentStream,
    StorageError,
    as_cid,
    within_cap,
)

DEFAULT_MAX_BYTES = 1 << 30  # what `get` accepts at most when the caller sets no limit
HAS_SECONDS = 5.0  # `has` asks the gateway for the content's headers for this long at most


class ReadOnlyStoreError(StorageError):
    """The store can only read: adding or pinning needs an IPFS daemon's API."""


class GatewayStore(ContentStore):
    """Content read through the gateway at `url` (`http(s)://HOST:PORT`); verified, never written.

    `timeout` bounds each wait for the gateway (a CID it cannot find fails after it as not found);
    `attempts` and `backoff` set how long an unreachable gateway is retried."""

    def __init__(self, url: str, *, timeout: float = 30.0, max_bytes: int = DEFAULT_MAX_BYTES, attempts: int = 4,
                 backoff: float = 0.25) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"an IPFS gateway is an http(s) URL such as http://127.0.0.1:8080, not {url!r}")
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {attempts}")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.attempts = attempts
        self.backoff = backoff

    def __repr__(self) -> str:
        return f"GatewayStore({self.url!r})"

    def _refuse(self, action: str) -> ReadOnlyStoreError:
        return ReadOnlyStoreError(f"the IPFS gateway at {self.url} is read-only: {action} needs an IPFS daemon's "
                                  "API (--ipfs http://HOST:PORT) or the embedded store")

    def add_bytes(self, data: bytes) -> Cid:
        raise self._refuse("adding content")

    def add_file(self, path: Path) -> Cid:
        raise self._refuse("adding content")

    def pin(self, cid: Cid | str) -> None:
        raise self._refuse("pinning content")

    def get(self, cid: Cid | str) -> bytes:
        return self._download(as_cid(cid), self.max_bytes, None)

    def get_bounded(self, cid: Cid | str, max_bytes: int, seconds: float) -> bytes:
        """At most `max_bytes` (the download stops at the first byte past it) within `seconds` in total."""
        return self._download(as_cid(cid), max_bytes, seconds)

    def stream_bounded(self, cid: Cid | str, max_bytes: int, seconds: float) -> ContentStream:
        """The size from the gateway's headers checked first, then the body streamed, cut past it."""
        cid = as_cid(cid)
        size = within_cap(cid, self.size(cid), max_bytes)
        return ContentStream(size, stream_content(
            cid, f"the IPFS gateway at {self.url}", "get",
            lambda: capped_chunks("GET", f"{self.url}/ipfs/{cid}", None, size, seconds, self.timeout),
            declared=size, within=seconds, attempts=self.attempts, backoff=self.backoff))

    def _download(self, cid: Cid, max_bytes: int, seconds: float | None) -> bytes:
        return fetch_content(cid, f"the IPFS gateway at {self.url}", "get",
                             lambda: capped_download("GET", f"{self.url}/ipfs/{cid}", None, max_bytes, seconds,
                                                     self.timeout),
                             max_bytes=max_bytes, within=self.timeout if seconds is None else seconds,
                             attempts=self.attempts, backoff=self.backoff)

    def _head(self, cid: Cid, seconds: float) -> requests.Response:
        """The content's headers (not its bytes); a gateway that cannot find it in time: ContentNotFoundError."""
        try:
            return with_retries(lambda: requests.head(f"{self.url}/ipfs/{cid}", timeout=(min(seconds, 10.0), seconds)),
                                retry_on=requests.ConnectionError, attempts=self.attempts, backoff=self.backoff,
                                unreachable=f"cannot reach the IPFS gateway at {self.url} to look up {cid}")
        except requests.Timeout:
            raise ContentNotFoundError(f"the IPFS gateway at {self.url} did not find {cid} within "
                                       f"{seconds:g}s") from None

    def has(self, cid: Cid | str) -> bool:
        """Whether the gateway serves `cid` (within a few seconds); a gateway pins nothing for us."""
        try:
            return self._head(as_cid(cid), min(self.timeout, HAS_SECONDS)).status_code == 200
        except ContentNotFoundError:
            return False

    def size(self, cid: Cid | str) -> int:
        cid = as_cid(cid)
        response = self._head(cid, self.timeout)
        length = response.headers.get("Content-Length", "")
        if response.status_code != 200 or not length.isdigit():
            raise ContentNotFoundError(f"the IPFS gateway at {self.url} gives no size for {cid} "
                                       f"(HTTP {response.status_code})")
        return int(length)
