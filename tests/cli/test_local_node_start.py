"""A command started beside `run.py chain` (the recipes start them at once, each party in its own
home) waits for that node instead of starting a second one that takes the port first."""

from __future__ import annotations

from pathlib import Path

import pytest

from chain.nodes import start_ganache
from chain.paths import NODE_BIN
from cli.common import local_node_lock
from protocol.errors import UserError
from tests.processes import Service
from tests.support import free_port, require_component


def test_deploy_started_while_run_py_chain_starts_its_node_uses_that_node(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    require_component((NODE_BIN / "ganache").exists(), "Ganache", "run ./setup.sh to install the npm package")
    port = free_port()
    monkeypatch.setenv("FEDCHAIN_GANACHE_PORT", str(port))
    with local_node_lock(port):  # what run.py chain holds while its Ganache starts
        deploy = Service("deploy", "--chain", "ganache", "--home", str(tmp_path / "organization"))
        node = start_ganache(port, tmp_path / "chain" / "db")
    try:
        deploy.finish(timeout=120)  # exit code 0, or its output in the failure
        assert not any("started Ganache" in line for line in deploy.lines)
        assert not (tmp_path / "organization" / "ganache").exists()  # no database, log or PID file of its own
    finally:
        node.stop()


def test_a_lock_that_cannot_be_opened_is_one_line_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another user's lock file, say, unreadable: a refusal that names the file, not a traceback."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    (tmp_path / "fedchain-node-8545.lock").mkdir()  # unopenable even by root, who may read any file
    refusal = r"lock .* port 8545, .*fedchain-node-8545\.lock: Is a directory .*TMPDIR"
    with pytest.raises(UserError, match=refusal), local_node_lock(8545):
        pass
