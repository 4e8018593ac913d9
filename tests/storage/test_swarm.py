"""`run.py ipfs peers|connect` and the daemon's --peer, --listen and --api options: what they print,
and one line for every address or node that cannot be used."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from cli.common import UserError
from cli.ipfs_commands import connect_command, peers_command, run_daemon
from cli.main import build_parser
from storage.jsipfs import JsIpfsDaemon
from tests.storage.nodes import Start, start_ipfs_node
from tests.support import free_port

pytestmark = pytest.mark.costly  # a minute or so of end-to-end runs: scheduled first (tests/conftest.py)

NOBODY = "/ip4/127.0.0.1/tcp/{port}/p2p/12D3KooWKFLBwp4AGqQe4uxaa6d1yH9VZe7qcMd2CR7R3QLhN97C"  # no node listens there


def test_peers_prints_the_node_s_own_addresses(jsipfs_daemon: JsIpfsDaemon,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert peers_command(f"http://127.0.0.1:{jsipfs_daemon.api_port}") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("this node's addresses")
    assert re.fullmatch(r"  /ip4/127\.0\.0\.1/tcp/\d+/p2p/\w+", lines[1])
    assert re.fullmatch(r"connected to \d+ node\(s\):?", lines[2])


@pytest.mark.parametrize(("command", "message"), [
    (lambda api: connect_command(api, "/ip4/127.0.0.1/tcp/1"), "is not a node's multiaddr like"),
    (lambda api: connect_command(api, NOBODY.format(port=free_port())), "cannot connect to /ip4/127.0.0.1/tcp/"),
    (lambda api: peers_command(f"http://127.0.0.1:{free_port()}"), "no IPFS daemon answers at"),
], ids=["no-peer-id", "nobody-there", "no-daemon"])
def test_swarm_problems_are_one_line(command: Callable[[str], int], message: str, jsipfs_daemon: JsIpfsDaemon,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert command(jsipfs_daemon.api_url) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


@pytest.mark.parametrize(("options", "message"), [
    (["--peer", "/ip4/10.0.0.2/tcp/4001"], "is not a node's multiaddr like"),
    (["--api", "0.0.0.0:5001"], "is not a TCP address like /ip4/127.0.0.1/tcp/5001"),
], ids=["peer-without-id", "api-not-a-multiaddr"])
def test_daemon_refuses_unusable_addresses_before_starting(options: list[str], message: str, tmp_path: Path) -> None:
    args = build_parser(["ipfs", "daemon"]).parse_args(["ipfs", "daemon", "--home", str(tmp_path), *options])
    with pytest.raises(UserError, match=message):
        run_daemon(args)
    assert not (tmp_path / "ipfs-daemon").exists()


def test_a_daemon_keeps_trying_a_peer_until_it_comes_up(started: Start, tmp_path: Path) -> None:
    """B is told about A before A runs (users start machines in any order): B says so once, then
    connects when A comes up on the address it was given."""
    swarm_port = free_port()
    first = start_ipfs_node(started, str(tmp_path / "a"), "--port", str(free_port()),
                            "--listen", f"/ip4/127.0.0.1/tcp/{swarm_port}")
    address = first.addresses[0]
    first.service.terminate()
    b = start_ipfs_node(started, str(tmp_path / "b"), "--port", str(free_port()), "--peer", address)
    b.service.wait_for(rf"^cannot connect to {re.escape(address)} .*\(trying again every 5s\)$", timeout=120)
    start_ipfs_node(started, str(tmp_path / "a"), "--port", str(free_port()),
                    "--listen", f"/ip4/127.0.0.1/tcp/{swarm_port}")  # same repository: same peer ID
    b.service.wait_for(rf"^connected to {re.escape(address)}$", timeout=120)
    assert sum(line.startswith("cannot connect to") for line in b.service.lines) == 1
