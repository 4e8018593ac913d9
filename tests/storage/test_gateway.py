"""`--ipfs gateway+http://HOST:PORT`: reads through a js-ipfs daemon's gateway, verified and capped
like the daemon store's; writes refused in one line; a lying or stalling gateway gets nowhere."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from cli.ipfs_address import api_url
from cli.ipfs_commands import add_command, cat_command
from storage.factory import open_store
from storage.gateway import GatewayStore, ReadOnlyStoreError
from storage.hashing import cid_of_bytes
from storage.ipfs_daemon import IpfsHttpStore
from storage.jsipfs import JsIpfsDaemon
from storage.store import (
    ContentNotFoundError,
    ContentTooLargeError,
    ContentVerificationError,
    StoreUnavailableError,
)
from tests.adversarial.test_outages import DripFeed, mimic_daemon
from tests.support import free_port

HELLO = "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD"  # b"hello world"


@pytest.fixture
def gateway(jsipfs_daemon: JsIpfsDaemon) -> GatewayStore:
    return GatewayStore(jsipfs_daemon.gateway_url, timeout=3)


def test_reads_what_the_daemon_holds(gateway: GatewayStore, daemon_store: IpfsHttpStore) -> None:
    data = os.urandom(700_000)  # several 256 KiB chunks: the gateway reassembles the DAG
    cid = daemon_store.add_bytes(data)
    assert gateway.get(cid) == data
    assert gateway.get_bounded(cid, len(data), seconds=30) == data
    assert gateway.size(cid) == len(data) and gateway.has(cid)


def test_over_the_size_limit_is_stopped(gateway: GatewayStore, daemon_store: IpfsHttpStore) -> None:
    data = os.urandom(100_000)
    cid = daemon_store.add_bytes(data)
    with pytest.raises(ContentTooLargeError, match=f"over the limit of {len(data) - 1} bytes"):
        gateway.get_bounded(cid, len(data) - 1, seconds=30)


def test_content_nobody_has_is_not_found_in_time(gateway: GatewayStore) -> None:
    absent = cid_of_bytes(os.urandom(64))
    with pytest.raises(ContentNotFoundError, match="within 2s"):
        gateway.get_bounded(absent, 1000, seconds=2)
    assert not gateway.has(absent)


def test_adding_and_pinning_are_refused_in_one_line(gateway: GatewayStore, tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x")
    for write in (lambda: gateway.add_bytes(b"x"), lambda: gateway.add_file(path), lambda: gateway.pin(HELLO)):
        with pytest.raises(ReadOnlyStoreError, match=r"is read-only: .* needs an IPFS daemon's API") as refused:
            write()
        assert "\n" not in str(refused.value)


def test_the_option_opens_a_gateway_store(jsipfs_daemon: JsIpfsDaemon, tmp_path: Path) -> None:
    store = open_store(f"gateway+{jsipfs_daemon.gateway_url}", tmp_path)
    assert isinstance(store, GatewayStore) and store.url == jsipfs_daemon.gateway_url


def test_cli_cat_through_the_gateway_and_add_refused(jsipfs_daemon: JsIpfsDaemon, daemon_store: IpfsHttpStore,
                                                     tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert str(daemon_store.add_bytes(b"hello world")) == HELLO
    spec = f"gateway+{jsipfs_daemon.gateway_url}"
    out = io.BytesIO()
    assert cat_command(spec, tmp_path, HELLO, out) == 0 and out.getvalue() == b"hello world"
    path = tmp_path / "hello.txt"
    path.write_bytes(b"hello world")
    assert add_command(spec, tmp_path, path, only_hash=False) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "is a gateway, which can only read" in err and err.count("\n") == 1


@pytest.mark.parametrize(("spec", "message"), [
    ("gateway+http://127.0.0.1:{api}", "is an IPFS daemon's RPC API, not its gateway"),
    ("gateway+http://127.0.0.1:{free}", "no IPFS gateway answers at http://127.0.0.1:{free}"),
    ("gateway+ftp://127.0.0.1:{free}", "give a gateway as gateway+http://HOST:PORT"),
], ids=["api-port", "nothing-there", "not-http"])
def test_wrong_gateway_addresses_are_one_line(spec: str, message: str, jsipfs_daemon: JsIpfsDaemon,
                                              tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ports = {"api": jsipfs_daemon.api_port, "free": free_port()}
    assert cat_command(spec.format(**ports), tmp_path, HELLO, io.BytesIO()) == 1
    err = capsys.readouterr().err
    assert message.format(**ports) in err and err.count("\n") == 1


class ForgingGateway(BaseHTTPRequestHandler):
    """Answers every path with bytes that are not those of the CID asked for."""

    def do_GET(self) -> None:
        body = b"hello world, but forged"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


@contextmanager
def hostile_gateway(mode: str) -> Iterator[str]:
    """A gateway that forges, floods or drip-feeds (as the outage tests' daemon does); its URL."""
    handler = ForgingGateway if mode == "forged" else DripFeed
    with mimic_daemon(flood=mode == "flood", handler=handler) as multiaddr:
        yield api_url(multiaddr)


@pytest.mark.parametrize(("mode", "error", "message"), [
    ("forged", ContentVerificationError, f"content for {HELLO} from the IPFS gateway at .* does not match"),
    ("flood", ContentTooLargeError, "over the limit of 5000 bytes"),
    ("drip", ContentNotFoundError, "did not deliver .* within 1.5s"),
])
def test_a_hostile_gateway_gets_nowhere(mode: str, error: type[Exception], message: str) -> None:
    """The drip would take 120 s to send 600 bytes: only the deadline ends it with this error."""
    with hostile_gateway(mode) as url, pytest.raises(error, match=message):
        GatewayStore(url, attempts=1).get_bounded(HELLO, 5000, 1.5)


def test_unreachable_gateway_is_an_outage_not_a_missing_cid() -> None:
    unreachable = r"cannot reach the IPFS gateway at http://127.0.0.1:\d+ .*\(2 attempts\)"
    with pytest.raises(StoreUnavailableError, match=unreachable):
        GatewayStore(f"http://127.0.0.1:{free_port()}", attempts=2, backoff=0.01).get(HELLO)
