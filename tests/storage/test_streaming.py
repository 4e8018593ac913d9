"""Streamed reads (`stream_bounded`, what a model download uses), on the embedded store, a js-ipfs
daemon and its gateway: pieces of at most STREAM_CHUNK, never the whole file at once; the cap checked
before a byte is read; a missing CID refused before anything is passed on; and bytes other than those
declared cut off with a clear error, the last piece held back until the whole matches its CID."""

from __future__ import annotations

import contextlib
import json
import os
import tracemalloc
from http.server import BaseHTTPRequestHandler

import pytest

from storage.embedded import EmbeddedStore
from storage.gateway import GatewayStore
from storage.hashing import StreamingCid, cid_of_bytes
from storage.ipfs_daemon import IpfsHttpStore
from storage.jsipfs import JsIpfsDaemon
from storage.store import (
    STREAM_CHUNK,
    ContentNotFoundError,
    ContentStore,
    ContentTooLargeError,
    ContentVerificationError,
)
from tests.adversarial.test_outages import mimic_daemon

HELLO = "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD"  # b"hello world"


@pytest.fixture(params=["embedded", "daemon", "gateway"])
def stores(request: pytest.FixtureRequest) -> tuple[ContentStore, ContentStore]:
    """(the store read from, the store written to): a gateway reads what its daemon holds."""
    if request.param == "embedded":
        store = request.getfixturevalue("embedded_store")
        return store, store
    daemon: JsIpfsDaemon = request.getfixturevalue("jsipfs_daemon")
    writer = IpfsHttpStore(daemon.api_multiaddr, timeout=3)
    return (writer if request.param == "daemon" else GatewayStore(daemon.gateway_url, timeout=3)), writer


def test_content_is_read_in_pieces_never_whole(stores: tuple[ContentStore, ContentStore]) -> None:
    reader, writer = stores
    data = os.urandom(2 << 20)
    cid = writer.add_bytes(data)
    content = reader.stream_bounded(cid, len(data), 60)
    assert content.size == len(data)
    hasher, sizes = StreamingCid(), []
    tracemalloc.start()
    try:
        for piece in content.chunks:
            hasher.update(piece)
            sizes.append(len(piece))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert hasher.finalize() == cid and sum(sizes) == len(data)
    assert max(sizes) <= STREAM_CHUNK and len(sizes) >= len(data) // STREAM_CHUNK
    assert peak < len(data) // 4  # a few pieces at a time, never the file


def test_over_the_cap_is_refused_before_reading(stores: tuple[ContentStore, ContentStore]) -> None:
    reader, writer = stores
    data = os.urandom(100_000)
    cid = writer.add_bytes(data)
    with pytest.raises(ContentTooLargeError, match=f"is {len(data)} bytes, over the limit of {len(data) - 1}"):
        reader.stream_bounded(cid, len(data) - 1, 60)


def test_a_cid_nobody_has_is_refused_before_streaming(stores: tuple[ContentStore, ContentStore]) -> None:
    reader, _ = stores
    with pytest.raises(ContentNotFoundError):
        reader.stream_bounded(cid_of_bytes(os.urandom(64)), 1000, 3)


@pytest.mark.parametrize(("on_disk", "reason"), [
    (lambda data: data[:-1] + b"?", "does not match its CID"),
    (lambda data: data + b"more", f"sent more than the {3 * STREAM_CHUNK + 10} bytes it declared"),
    (lambda data: data[:STREAM_CHUNK], f"sent {STREAM_CHUNK} of the {3 * STREAM_CHUNK + 10} bytes it declared"),
], ids=["changed", "grown", "cut"])
def test_other_bytes_on_disk_end_the_stream_short(embedded_store: EmbeddedStore, on_disk, reason: str) -> None:
    data = os.urandom(3 * STREAM_CHUNK + 10)
    cid = embedded_store.add_bytes(data)
    content = embedded_store.stream_bounded(cid, len(data), 60)
    embedded_store.path_of(cid).write_bytes(on_disk(data))  # after the size was read, before the bytes
    passed: list[bytes] = []
    with pytest.raises(ContentVerificationError, match=reason):
        passed.extend(content.chunks)
    assert sum(map(len, passed)) < len(data)  # the reader never gets a whole file


class Overstating(BaseHTTPRequestHandler):
    """A daemon that declares 11 bytes for every CID (`files stat`), then sends a megabyte (`cat`)."""

    def do_POST(self) -> None:
        if self.path.startswith("/api/v0/files/stat"):
            body = json.dumps({"Hash": HELLO, "Size": 11, "CumulativeSize": 19, "Blocks": 0, "Type": "file"}).encode()
        elif self.path.startswith("/api/v0/cat"):
            body = b"x" * (1 << 20)
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the reader hung up, as it should
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


def test_a_daemon_sending_more_than_it_declared_is_cut_off() -> None:
    with mimic_daemon(flood=True, handler=Overstating) as address:
        store = IpfsHttpStore(address, attempts=1, timeout=5)
        with pytest.raises(ContentVerificationError, match="sent more than the 11 bytes it declared for"):
            store.stream_bounded(HELLO, 5000, 5)  # its first piece is already past it
