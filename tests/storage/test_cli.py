"""`run.py ipfs add|cat` behind the scenes: exit codes, output, one-line errors."""

from __future__ import annotations

import io
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


def test_unreachable_daemon_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    address = f"/ip4/127.0.0.1/tcp/{free_port()}"
    assert cat_command(address, tmp_path, HELLO, io.BytesIO()) == 1
    err = capsys.readouterr().err
    assert f"cannot reach the IPFS daemon at {address}/http" in err and err.count("\n") == 1
