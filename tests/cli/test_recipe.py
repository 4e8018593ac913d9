"""The README's separate-processes recipe, run as a user would: every process started at once, on
Ganache and the bundled IPFS daemon; then an outsider reads and verifies the history from a fresh home.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

from chain.paths import NODE_BIN
from storage.jsipfs import jsipfs_available
from tests.processes import Service, Start
from tests.support import free_port, require_component, run_main

pytestmark = pytest.mark.costly  # a minute or so of end-to-end runs: scheduled first (tests/conftest.py)

ROUNDS = 2


def _stop_with(service: Service, signum: signal.Signals) -> None:
    """Send `signum` and wait for the line about it (the bound is for a failing test, not a timing claim)."""
    service.process.send_signal(signum)
    service.wait_for(rf"{signum.name}: stopping", timeout=60)


def test_readme_recipe_all_at_once_then_an_outsider_verifies(started: Start, tmp_path: Path, capsys) -> None:
    require_component((NODE_BIN / "ganache").exists(), "Ganache", "run ./setup.sh to install the npm package")
    require_component(jsipfs_available(), "js-ipfs", "run ./setup.sh to install the npm package ipfs")
    home, outsider_home = str(tmp_path / "shared"), str(tmp_path / "outsider")
    chain_port, ipfs_port = free_port(), free_port()
    chain_url, ipfs_url = f"http://127.0.0.1:{chain_port}", f"http://127.0.0.1:{ipfs_port}"
    common = ["--chain", chain_url, "--ipfs", ipfs_url, "--home", home, "--poll", "0.5"]

    chain = started("chain", "--port", str(chain_port), "--home", home)
    daemon = started("ipfs", "daemon", "--port", str(ipfs_port), "--home", home)
    organization = started("organization", *common, "--quorum", "2", "--model", "2nn", "--rounds", str(ROUNDS),
                           "--deadline-blocks", "600")
    clients = [started("client", *common, "--account", str(account), "--num-partitions", "2",
                       "--rounds", str(ROUNDS)) for account in (1, 2)]

    contract = organization.wait_for(r"contract (0x[0-9a-fA-F]{40})", timeout=180).group(1)
    organization.finish(timeout=300)
    assert organization.lines[-1] == f"organization: closed {ROUNDS} round(s) as --rounds {ROUNDS} asked: stopping"
    for client in clients:
        client.finish(timeout=120)
        for waited in ("waiting for IPFS", "waiting for the chain", "waiting for the organization"):
            assert sum(line.startswith(waited) for line in client.lines) <= 1  # said once, if at all

    # Meanwhile: without --rounds the organization runs until stopped, and says so; a web client starts too.
    endless = started("organization", *common, "--quorum", "2", "--model", "2nn")
    web = started("client", *common, "--account", "3", "--port", str(free_port()))

    # An outsider: the chain URL, the contract address, an IPFS daemon and a fresh home.
    code, out, err = run_main(capsys, "history", "--chain", chain_url, "--home", outsider_home)  # a refusal
    assert code == 1 and "--contract" in out + err and "run.py deploy" not in out + err
    history = started("history", "--chain", chain_url, "--contract", contract, "--home", outsider_home)
    history.finish(60)
    assert int(re.search(r"(\d+) round\(s\)$", history.lines[0]).group(1)) >= ROUNDS  # + the endless one's
    assert sum(bool(re.match(r"\s+\d+\s+finalized\s+2/2\s+Qm", line)) for line in history.lines) == ROUNDS
    verify = started("verify", "--chain", chain_url, "--contract", contract, "--ipfs", ipfs_url,
                     "--home", outsider_home)
    verify.finish(120)
    assert verify.lines[-1] == f"{ROUNDS}/{ROUNDS} finalized rounds verified"

    endless.wait_for(r"running rounds until stopped", timeout=120)
    web.wait_for(r"client web interface on http://127\.0\.0\.1:\d+", timeout=120)
    _stop_with(endless, signal.SIGTERM)
    _stop_with(web, signal.SIGINT)
    for service in (endless, web, daemon, chain):
        if service in (daemon, chain):
            _stop_with(service, signal.SIGTERM)
        assert service.process.wait(60) == 130
        assert sum("stopping" in line for line in service.lines) == 1
    everything = [line for service in (chain, daemon, organization, *clients, verify) for line in service.lines]
    assert not [line for line in everything if "Warning" in line or "Traceback" in line]
