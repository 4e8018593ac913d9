"""HTTP downloads from servers we do not control (an IPFS daemon's API, a gateway): retried only
when the connection fails, capped in bytes and in total time however slowly the server sends, and
returned only when they match their CID. Failures become the store's error types.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import requests

from storage.cid import Cid
from storage.store import (
    STREAM_CHUNK,
    ContentNotFoundError,
    ContentTooLargeError,
    ContentVerificationError,
    StorageError,
    StoreUnavailableError,
    verified,
    verified_chunks,
)

T = TypeVar("T")

_ERROR_TEXT_LIMIT = 2000


class TooLarge(Exception):
    """The body went past the byte limit; the download was stopped there."""


class Late(Exception):
    """The whole download did not finish in time (or its connection timed out)."""


class ServerSaid(Exception):
    """The server answered with an error status; the message is its text, shortened."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def with_retries(request: Callable[[], T], *, retry_on: type[BaseException] | tuple[type[BaseException], ...],
                 attempts: int, backoff: float, unreachable: str) -> T:
    """`request()`, tried again after `backoff`, 2 x `backoff`... seconds while it raises `retry_on`
    (a connection failure); after `attempts` tries, StoreUnavailableError("`unreachable` (N attempts): ...")."""
    delay = backoff
    for attempt in range(1, attempts + 1):
        try:
            return request()
        except retry_on:
            if attempt == attempts:
                raise StoreUnavailableError(f"{unreachable} ({attempts} attempts): is it running?") from None
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable: the last attempt returns or raises")


def fetch_content(cid: Cid, source: str, action: str, request: Callable[[], bytes], *, max_bytes: int,
                  within: float, attempts: int, backoff: float) -> bytes:
    """`request()` (a capped_download of `cid` from `source`, e.g. "the IPFS gateway at URL"), retried
    while the connection fails, its failures as StorageError types, its bytes verified against `cid`.
    `within`: the seconds the request had, for the message when it runs out."""
    too_large = ContentTooLargeError(f"{cid} is over the limit of {max_bytes} bytes: the download was stopped there")
    with _as_storage_errors(cid, source, action, within, too_large):
        data = with_retries(request, retry_on=requests.ConnectionError, attempts=attempts, backoff=backoff,
                            unreachable=f"cannot reach {source} to {action} {cid}")
    return verified(cid, data, source)


def stream_content(cid: Cid, source: str, action: str, body: Callable[[], Iterator[bytes]], *, declared: int,
                   within: float, attempts: int, backoff: float) -> Iterator[bytes]:
    """The pieces of `body()` (capped_chunks of `cid` from `source`, capped at the `declared` size),
    verified as they pass (verified_chunks). The first piece is read now, retried while the connection
    fails, so that a refused or missing CID raises here, before the caller has passed anything on."""

    def opened() -> tuple[Iterator[bytes], bytes]:
        chunks = body()
        return chunks, next(chunks, b"")

    overrun = ContentVerificationError(f"{source} sent more than the {declared} bytes it declared for {cid}: "
                                       "the download was stopped there")
    with _as_storage_errors(cid, source, action, within, overrun):
        chunks, first = with_retries(opened, retry_on=requests.ConnectionError, attempts=attempts, backoff=backoff,
                                     unreachable=f"cannot reach {source} to {action} {cid}")

    def rest() -> Iterator[bytes]:
        with _as_storage_errors(cid, source, action, within, overrun):
            if first:
                yield first
            yield from chunks

    return verified_chunks(cid, rest(), declared, source)


@contextlib.contextmanager
def _as_storage_errors(cid: Cid, source: str, action: str, within: float, too_large: StorageError) -> Iterator[None]:
    """A download's failures as the store's errors: `too_large` when it went past its byte limit."""
    try:
        yield
    except TooLarge:
        raise too_large from None
    except Late:
        raise ContentNotFoundError(f"{source} did not deliver {cid} within {within:g}s") from None
    except ServerSaid as said:
        if said.status == 404 or "not found" in str(said).lower():
            raise ContentNotFoundError(f"{source} has no {cid}: {said}") from None
        raise StorageError(f"{source} failed to {action} {cid}: HTTP {said.status} {said}") from None


def capped_download(method: str, url: str, params: dict[str, str] | None, max_bytes: int,
                    seconds: float | None, read_timeout: float) -> bytes:
    """The whole body of capped_chunks (which see), joined."""
    return b"".join(capped_chunks(method, url, params, max_bytes, seconds, read_timeout))


def capped_chunks(method: str, url: str, params: dict[str, str] | None, max_bytes: int,
                  seconds: float | None, read_timeout: float) -> Iterator[bytes]:
    """The body in pieces of at most STREAM_CHUNK bytes, at most `max_bytes` of it (TooLarge past
    it) within `seconds` in total (Late), each read waiting at most `read_timeout`; `seconds=None`
    sets no total limit. A watchdog shuts the connection when the total time runs out, so a
    drip-fed body cannot hold us. The request is sent at the first piece asked for.
    Raises requests.ConnectionError when the server cannot be reached, ServerSaid on an error status."""
    expired = threading.Event()
    started = time.monotonic()
    first_wait = read_timeout if seconds is None else min(seconds, read_timeout)
    try:
        response = requests.request(method, url, params=params, stream=True,
                                    timeout=(min(first_wait, 10.0), first_wait))
    except requests.Timeout:
        raise Late() from None
    watchdog = None
    if seconds is not None:
        watchdog = threading.Timer(max(0.0, seconds - (time.monotonic() - started)), _cut, (response, expired))
        watchdog.start()
    try:
        with response:
            if response.status_code != 200:
                raise ServerSaid(response.status_code, _error_message(response))
            received = 0
            for chunk in response.iter_content(STREAM_CHUNK):
                received += len(chunk)
                if received > max_bytes:
                    raise TooLarge()
                if expired.is_set():
                    raise Late()
                yield chunk
            if expired.is_set():  # the watchdog ended the body: what came is incomplete
                raise Late()
    except requests.Timeout:
        raise Late() from None
    except (requests.RequestException, OSError):
        if expired.is_set():
            raise Late() from None
        raise
    finally:
        if watchdog is not None:
            watchdog.cancel()


def _cut(response: requests.Response, expired: threading.Event) -> None:
    """Shut the response's socket: a blocked read returns at once (close alone would not wake it)."""
    expired.set()
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _error_message(response: requests.Response) -> str:
    """The error's text, at most a few KiB of it: an API's JSON `Message`, else the body itself."""
    text = next(response.iter_content(_ERROR_TEXT_LIMIT), b"")[:_ERROR_TEXT_LIMIT].decode(errors="replace")
    try:
        message = json.loads(text).get("Message")
    except (ValueError, AttributeError):
        message = None
    return str(message or text.strip() or f"HTTP {response.status_code}")
