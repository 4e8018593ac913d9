"""The daemon-backed store: pins, verification against lying daemons, clear errors when unreachable."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from storage.cid import InvalidCidError
from storage.factory import open_store
from storage.hashing import cid_of_bytes
from storage.ipfs_daemon import IpfsHttpStore, http_multiaddr
from storage.store import (
    ContentNotFoundError,
    ContentVerificationError,
    StoreUnavailableError,
)
from tests.support import free_port

MISSING = "QmSatgu9YhYJ3NDZM9AQoAf8wThKE8AdH2o3CFpd5oDuoJ"
HELLO = "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD"  # b"hello world"


class LyingDaemon(BaseHTTPRequestHandler):
    """Speaks just enough of the RPC API to answer `cat` and `add` with the wrong content."""

    def do_POST(self) -> None:
        self._drain_body()
        if self.path.startswith("/api/v0/cat"):
            self._reply(b"hello world, but forged", "application/octet-stream")
        elif self.path.startswith("/api/v0/add"):
            self._reply(json.dumps({"Name": "f", "Hash": HELLO, "Size": "11"}).encode(), "application/json")
        else:
            self.send_error(404)

    def _drain_body(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while size := int(self.rfile.readline().split(b";")[0], 16):
                self.rfile.read(size + 2)
            self.rfile.readline()
        else:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def _reply(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


@pytest.fixture
def lying_store() -> Iterator[IpfsHttpStore]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), LyingDaemon)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield IpfsHttpStore(f"/ip4/127.0.0.1/tcp/{server.server_address[1]}", timeout=5, attempts=1)
    finally:
        server.shutdown()
        server.server_close()


def test_forged_content_is_refused(lying_store: IpfsHttpStore) -> None:
    with pytest.raises(ContentVerificationError, match=HELLO):
        lying_store.get(HELLO)


def test_forged_add_result_is_refused(lying_store: IpfsHttpStore) -> None:
    with pytest.raises(ContentVerificationError, match=f"stored content under {HELLO}"):
        lying_store.add_bytes(b"something else")


def test_daemon_down_is_reported_after_its_attempts_with_its_address(tmp_path: Path) -> None:
    address = f"/ip4/127.0.0.1/tcp/{free_port()}"
    store = IpfsHttpStore(address, timeout=2, attempts=3, backoff=0.01)
    source = tmp_path / "model.bin"
    source.write_bytes(b"weights")
    for operation in (lambda: store.add_file(source), lambda: store.get(HELLO), lambda: store.has(HELLO)):
        with pytest.raises(StoreUnavailableError, match=f"{address}/http.*\\(3 attempts\\): is it running"):
            operation()
    assert source.read_bytes() == b"weights"


def test_daemon_round_trip_pins_what_it_adds(daemon_store: IpfsHttpStore) -> None:
    data = b"pinned by the store " + bytes(range(256))
    cid = daemon_store.add_bytes(data)
    assert cid == cid_of_bytes(data)
    assert daemon_store.has(cid)
    daemon_store.pin(cid)
    assert daemon_store.get(cid) == data
    assert daemon_store.size(cid) == len(data)


def test_daemon_missing_content(daemon_store: IpfsHttpStore) -> None:
    assert not daemon_store.has(MISSING)
    quick = IpfsHttpStore(daemon_store.address, timeout=1)
    with pytest.raises(ContentNotFoundError, match=f"did not deliver {MISSING}"):
        quick.get(MISSING)


def test_malformed_cid_is_rejected_before_any_request(daemon_store: IpfsHttpStore) -> None:
    with pytest.raises(InvalidCidError, match="expected a CIDv0"):
        daemon_store.get("QmNotACid")


def test_addresses(tmp_path: Path) -> None:
    assert http_multiaddr("/ip4/127.0.0.1/tcp/5001") == "/ip4/127.0.0.1/tcp/5001/http"
    assert http_multiaddr("/ip4/127.0.0.1/tcp/5001/http") == "/ip4/127.0.0.1/tcp/5001/http"
    store = open_store("/dns/localhost/tcp/5001", tmp_path)
    assert isinstance(store, IpfsHttpStore) and store.address == "/dns/localhost/tcp/5001/http"
    with pytest.raises(ValueError, match="invalid IPFS daemon address"):
        open_store("/not-a-protocol/x", tmp_path)
