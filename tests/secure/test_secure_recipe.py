"""docs/SECURE_AGGREGATION.md's separate-processes recipe, run as a user would: a chain, an IPFS daemon,
the organization and three clients, every party in its own home, all started together with the
default phase lengths while the rest of the suite loads the machine; every client must make every
phase, and an outsider verifies the secure round from a fresh home."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chain.paths import NODE_BIN
from storage.jsipfs import jsipfs_available
from tests.processes import Start
from tests.support import free_port, require_component, run_main

pytestmark = pytest.mark.costly  # a minute or so of end-to-end runs: scheduled first (tests/conftest.py)

CLIENTS = 3


def test_the_secure_recipe_keeps_every_client_and_an_outsider_verifies(started: Start, tmp_path: Path,
                                                                        capsys) -> None:
    require_component((NODE_BIN / "ganache").exists(), "Ganache", "run ./setup.sh to install the npm package")
    require_component(jsipfs_available(), "js-ipfs", "run ./setup.sh to install the npm package ipfs")
    chain_port, ipfs_port = free_port(), free_port()
    chain_url, ipfs_url = f"http://127.0.0.1:{chain_port}", f"http://127.0.0.1:{ipfs_port}"
    home = {party: str(tmp_path / party) for party in ("chain", "ipfs", "organization", "outsider")}

    chain = started("chain", "--port", str(chain_port), "--home", home["chain"])
    started("ipfs", "daemon", "--port", str(ipfs_port), "--home", home["ipfs"])
    chain.wait_for(r"Ganache listening on")
    code, out, err = run_main(capsys, "deploy", "--chain", chain_url, "--home", home["organization"])
    assert code == 0, out + err
    contract = out.splitlines()[-1]  # the recipe's `| tail -1`
    assert re.fullmatch(r"0x[0-9a-fA-F]{40}", contract), out

    # The recipe's own settings: the default poll too, since the organization mines a block per look
    # on a chain of its own machine, and so sets how long the phases last
    common = ["--chain", chain_url, "--ipfs", ipfs_url, "--secure-aggregation", "--rounds", "1"]
    organization = started("organization", *common, "--quorum", str(CLIENTS), "--model", "2nn",
                           "--home", home["organization"])
    clients = [started("client", *common, "--contract", contract, "--account", str(account),
                       "--num-partitions", str(CLIENTS), "--home", str(tmp_path / f"client{account}"))
               for account in range(1, CLIENTS + 1)]

    organization.finish(timeout=600)
    finalized = rf"round 1: secure round finalized with {CLIENTS} masked updates \(0 dropped\)"
    assert any(re.search(finalized, line) for line in organization.lines), "\n".join(organization.lines)
    for client in clients:
        client.finish(timeout=120)

    code, out, err = run_main(capsys, "verify", "--chain", chain_url, "--contract", contract, "--ipfs", ipfs_url,
                              "--home", home["outsider"])
    assert code == 0, out + err
    assert "1/1 finalized rounds verified" in out
    everything = [line for service in (organization, *clients) for line in service.lines]
    assert not [line for line in everything if "Warning" in line or "Traceback" in line]
