"""Three machines in one test: the organization with its IPFS node, the clients with theirs, and the
chain (Anvil), each in a network namespace of its own. Only the swarm and the chain's JSON-RPC cross
between them; every API stays on its host's loopback. A round finalizes and an outsider verifies it
through the clients' node (its API, then its read-only gateway alone); the organization's node keeps
(pins) the base, the accepted updates and the result it never had from its own clients. Runs as root
(CI is root); fails under CI=true when namespaces cannot be made."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.nodes import GanacheProcess, anvil_command, anvil_executable
from storage.jsipfs import jsipfs_available
from tests.storage.namespaces import Hosts, NamespaceError, namespaces_possible
from tests.storage.nodes import Start, start_ipfs_node
from tests.support import require_component

pytestmark = pytest.mark.costly  # a minute or so of end-to-end runs: scheduled first (tests/conftest.py)

CHAIN_PORT = 8545  # each namespace has its own ports: the usual ones are free there
API = "/ip4/127.0.0.1/tcp/5001"
SWARM_PORT = 4001
ROUND_SECONDS = 300


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    require_component(namespaces_possible(), "network namespaces", "run as root with iproute2 (`ip netns`)")
    hosts = Hosts(["organization", "clients", "chain"])
    try:
        hosts.create()
    except NamespaceError as error:
        hosts.delete()
        require_component(False, "network namespaces", f"creating them failed: {error}")
    yield hosts
    assert hosts.delete() == []


@pytest.fixture
def chain_host(hosts: Hosts) -> Iterator[str]:
    """Anvil on the chain host's address; its JSON-RPC URL."""
    require_component(anvil_executable() is not None, "Anvil", "run ./setup.sh to install the npm package")
    command = anvil_command(CHAIN_PORT, None)
    command[command.index("--host") + 1] = hosts.address["chain"]
    command += ["--block-time", "1"]  # a chain other hosts share keeps its own clock (DEPLOYMENT.md)
    node = GanacheProcess(subprocess.Popen([*hosts.prefix("chain"), *command], stdin=subprocess.DEVNULL,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
                          f"http://{hosts.address['chain']}:{CHAIN_PORT}")
    yield node.url
    node.stop()


def test_organization_clients_and_chain_on_three_hosts(hosts: Hosts, chain_host: str, started: Start,
                                                        tmp_path: Path) -> None:
    """`started` comes after `hosts`, so every process stops before the namespaces go."""
    require_component(jsipfs_available(), "js-ipfs", "run ./setup.sh to install the npm package ipfs")
    org_host, clients_host = hosts.prefix("organization"), hosts.prefix("clients")
    org_node = start_ipfs_node(started, str(tmp_path / "organization"), "--api", API,
                               "--listen", f"/ip4/{hosts.address['organization']}/tcp/{SWARM_PORT}", prefix=org_host)
    peerable = [a for a in org_node.addresses if a.startswith(f"/ip4/{hosts.address['organization']}/")]
    assert len(peerable) == 1, org_node.addresses
    clients_node = start_ipfs_node(started, str(tmp_path / "clients"), "--api", API,
                                   "--listen", f"/ip4/{hosts.address['clients']}/tcp/{SWARM_PORT}",
                                   "--peer", peerable[0], prefix=clients_host)
    clients_node.service.wait_for(rf"^connected to {re.escape(peerable[0])}$", timeout=60)

    chain = ["--chain", chain_host, "--poll", "0.5"]
    organization = started("organization", *chain, "--ipfs", org_node.api, "--home", str(tmp_path / "organization"),
                           "--quorum", "2", "--model", "2nn", "--epochs", "1", "--rounds", "1",
                           "--deadline-blocks", "600", prefix=org_host)
    contract = organization.wait_for(r"contract (0x[0-9a-fA-F]{40})", timeout=ROUND_SECONDS).group(1)
    clients = [started("client", *chain, "--ipfs", clients_node.api, "--home", str(tmp_path / f"client-{account}"),
                       "--contract", contract, "--account", str(account), "--num-partitions", "2", "--rounds", "1",
                       prefix=clients_host)
               for account in (1, 2)]
    organization.finish(ROUND_SECONDS)
    result = organization.wait_for(r"round 1: finalized with 2/2 updates -> (Qm\w+)", timeout=1).group(1)
    updates = []
    for client in clients:
        client.finish(ROUND_SECONDS)
        updates.append(client.wait_for(r"round 1 submitted (Qm\w+)", timeout=1).group(1))

    for ipfs in (clients_node.api, clients_node.gateway):  # the outsider with the clients' API, then their gateway
        verify = started("verify", "--chain", chain_host, "--contract", contract, "--ipfs", ipfs,
                         "--home", str(tmp_path / "outsider"), prefix=clients_host)
        verify.finish(ROUND_SECONDS)
        assert verify.lines[-1] == "1/1 finalized rounds verified"
    # The clients added their updates on their node; the organization's node pinned them, the base and the result.
    base = organization.wait_for(r"round 1: opened on (Qm\w+)", timeout=1).group(1)
    assert _pinned(org_host, org_node.api, [base, result, *updates]) == [True] * (2 + len(updates))


def _pinned(host: list[str], api: str, cids: list[str]) -> list[bool]:
    """Whether a node pins each CID, asked from the node's own host (its API is on that host's loopback)."""
    script = ("import sys; from tests.storage.nodes import pinned; "
              "print(' '.join(str(pinned(sys.argv[1], cid)) for cid in sys.argv[2:]))")
    asked = subprocess.run([*host, sys.executable, "-c", script, api, *cids], capture_output=True, text=True,
                           cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert asked.returncode == 0, asked.stderr
    return [word == "True" for word in asked.stdout.split()]
