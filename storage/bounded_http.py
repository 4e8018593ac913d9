"""HTTP downloads from servers we do not control (an IPFS daemon's API, a gateway): retried only
when the connection fails, capped in bytes and in total time however slowly the server sends.

The stores map the exceptions here to their StorageError types with their own wording.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import requests

from storage.store import StoreUnavailableError

T = TypeVar("T")

_STREAM_CHUNK = 64 * 1024
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


def capped_download(method: str, url: str, params: dict[str, str] | None, max_bytes: int,
                    seconds: float | None, read_timeout: float) -> bytes:
    """At most `max_bytes` of the body (TooLarge past it) within `seconds` in total (Late), each read
    waiting at most `read_timeout`; `seconds=None` sets no total limit. A watchdog shuts the
    connection when the total time runs out, so a drip-fed body cannot hold us.
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
            received = bytearray()
            for chunk in response.iter_content(_STREAM_CHUNK):
                received += chunk
                if len(received) > max_bytes:
                    raise TooLarge()
                if expired.is_set():
                    raise Late()
            if expired.is_set():  # the watchdog ended the body: what came is incomplete
                raise Late()
            return bytes(received)
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
