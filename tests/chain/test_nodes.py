"""`run.py chain --host`: a Ganache other machines can reach still answers on this machine's loopback."""

from __future__ import annotations

from pathlib import Path

from chain.nodes import LOOPBACK, ganache_answers, ganache_command, ganache_url, start_ganache
from chain.paths import NODE_BIN
from tests.support import free_port, require_component


def test_ganache_listens_on_loopback_unless_told() -> None:
    require_component((NODE_BIN / "ganache").exists(), "Ganache", "run ./setup.sh to install the npm package")
    default = ganache_command(8545, Path("db"))
    assert default[default.index("--host") + 1] == LOOPBACK
    everywhere = ganache_command(8545, Path("db"), host="0.0.0.0")
    assert everywhere[everywhere.index("--host") + 1] == "0.0.0.0"


def test_a_ganache_on_every_interface_is_awaited_on_loopback(tmp_path: Path) -> None:
    require_component((NODE_BIN / "ganache").exists(), "Ganache", "run ./setup.sh to install the npm package")
    port = free_port()
    node = start_ganache(port, tmp_path / "db", host="0.0.0.0")
    try:
        assert ganache_answers(ganache_url(port))
    finally:
        node.stop()
