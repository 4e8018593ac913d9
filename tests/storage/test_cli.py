"""`run.py ipfs add|cat` behind the scenes: exit codes, output, one-line errors."""

from __future__ import annotations

import io
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cli.ipfs_commands import add_command, cat_command
from storage.jsipfs import JsIpfsDaemon
from tests.support import free_port

HELLO = "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD"


@pytest.fixture
def hello(tmp_path: Path) -> Path:
    path = tmp_path / "hello.txt"
    path.write_bytes(b"hello world")
    return path


def test_add_then_cat(tmp_path: Path, hello: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    assert add_command("embedded", home, hello, only_hash=False) == 0
    assert capsys.readouterr().out.strip() == HELLO
    out = io.BytesIO()
    assert cat_command("embedded", home, HELLO, out) == 0
    assert out.getvalue() == b"hello world"


def test_only_hash_writes_nothing(tmp_path: Path, hello: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    assert add_command("/ip4/127.0.0.1/tcp/1", home, hello, only_hash=True) == 0
    assert capsys.readouterr().out.strip() == HELLO
    assert not home.exists()


def test_daemon_add_then_cat(
    jsipfs_daemon: JsIpfsDaemon, tmp_path: Path, hello: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert add_command(jsipfs_daemon.api_multiaddr, tmp_path, hello, only_hash=False) == 0
    assert capsys.readouterr().out.strip() == HELLO
    out = io.BytesIO()
    assert cat_command(jsipfs_daemon.api_multiaddr, tmp_path, HELLO, out) == 0
    assert out.getvalue() == b"hello world"


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (lambda home, out: add_command("embedded", home, home / "absent", False), "is not a readable file"),
        (lambda home, out: cat_command("embedded", home, "QmBad", out), "invalid CID 'QmBad'"),
        (lambda home, out: cat_command("embedded", home, HELLO, out), f"{HELLO} is not in the embedded store"),
        (lambda home, out: cat_command("nowhere", home, HELLO, out), "unknown IPFS store 'nowhere'"),
    ],
    ids=["missing-file", "malformed-cid", "missing-content", "bad-store"],
)
def test_errors_are_one_line(command, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = io.BytesIO()
    assert command(tmp_path, out) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert out.getvalue() == b""


@pytest.mark.parametrize("form", ["/ip4/127.0.0.1/tcp/{port}", "http://127.0.0.1:{port}"])
def test_unreachable_daemon_is_one_line(form: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    assert cat_command(form.format(port=port), tmp_path, HELLO, io.BytesIO()) == 1
    err = capsys.readouterr().err
    assert f"no IPFS daemon answers at http://127.0.0.1:{port}" in err and err.count("\n") == 1


class _QuietWebServer(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Keep the captured stderr to the command's own line."""


def test_a_port_that_is_not_ipfs_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A web server on the port (here: a plain HTTP server that answers 404) is named as such."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _QuietWebServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert cat_command(f"http://127.0.0.1:{server.server_address[1]}", tmp_path, HELLO, io.BytesIO()) == 1
    finally:
        server.shutdown()
        server.server_close()
    err = capsys.readouterr().err
    assert "is not an IPFS daemon's RPC API" in err and err.count("\n") == 1 and "HTTPError" not in err


def test_daemon_accepts_the_http_url_kubo_users_type(jsipfs_daemon: JsIpfsDaemon, tmp_path: Path, hello: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{jsipfs_daemon.api_port}"
    assert add_command(url, tmp_path, hello, only_hash=False) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == HELLO and "FutureWarning" not in captured.err
