"""Two IPFS nodes, as on two machines: content added on one is fetched through the other, and an
organization on node A with clients on node B (each party with its own home) finalizes a round
that an outsider verifies through node B (its API, then its gateway alone); the organization's
node keeps (pins) the base, the accepted updates and the result."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.nodes import GanacheProcess, anvil_executable, free_port, start_anvil
from storage import swarm
from storage.jsipfs import jsipfs_available
from tests.storage.nodes import IpfsNode, Start, start_ipfs_node
from tests.support import require_component

ROUND_SECONDS = 300


@pytest.fixture
def anvil() -> Iterator[GanacheProcess]:
    require_component(anvil_executable() is not None, "Anvil", "run ./setup.sh to install the npm package")
    process = start_anvil(free_port(), None)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def two_nodes(started_for_module: Start, tmp_path_factory: pytest.TempPathFactory) -> tuple[IpfsNode, IpfsNode]:
    """Node A, then node B told to peer with A (as a user on another machine would). Shared by the
    module's tests: each adds content of its own (random or its own round's), so their order is free."""
    require_component(jsipfs_available(), "js-ipfs", "run ./setup.sh to install the npm package ipfs")
    nodes = tmp_path_factory.mktemp("two-nodes")
    a = start_ipfs_node(started_for_module, str(nodes / "node-a"), "--port", str(free_port()))
    b = start_ipfs_node(started_for_module, str(nodes / "node-b"), "--port", str(free_port()),
                        "--peer", a.addresses[0])
    b.service.wait_for(rf"^connected to {re.escape(a.addresses[0])}$", timeout=60)
    return a, b


def _peer_ids(api: str) -> set[str]:
    return {swarm.peer_id(address) for address in swarm.connected_peers(api)}


def test_content_added_on_one_node_is_fetched_through_the_other(two_nodes: tuple[IpfsNode, IpfsNode]) -> None:
    a, b = two_nodes
    assert swarm.peer_id(a.addresses[0]) in _peer_ids(b.api)
    data = os.urandom(3 * 1024 * 1024)  # new to both nodes: B can only have it from A
    cid = a.store().add_bytes(data)
    assert b.store().get_bounded(cid, len(data), seconds=60) == data


def test_organization_on_one_node_clients_on_the_other_then_verify_through_the_clients_node(
        two_nodes: tuple[IpfsNode, IpfsNode], anvil: GanacheProcess, started: Start, tmp_path: Path) -> None:
    a, b = two_nodes
    chain = ["--chain", anvil.url, "--poll", "0.5"]
    organization = started("organization", *chain, "--ipfs", a.api, "--home", str(tmp_path / "organization"),
                           "--quorum", "2", "--model", "2nn", "--rounds", "1", "--deadline-blocks", "600")
    contract = organization.wait_for(r"contract (0x[0-9a-fA-F]{40})", timeout=ROUND_SECONDS).group(1)
    clients = [started("client", *chain, "--ipfs", b.api, "--home", str(tmp_path / f"client-{account}"),
                       "--contract", contract, "--account", str(account), "--num-partitions", "2", "--rounds", "1")
               for account in (1, 2)]
    organization.finish(ROUND_SECONDS)
    result = organization.wait_for(r"round 1: finalized with 2/2 updates -> (Qm\w+)", timeout=1).group(1)
    updates = []
    for client in clients:
        client.finish(ROUND_SECONDS)
        updates.append(client.wait_for(r"round 1 submitted (Qm\w+)", timeout=1).group(1))

    for ipfs in (b.api, b.gateway):  # the outsider with node B's API, then with only its read-only gateway
        verify = started("verify", "--chain", anvil.url, "--contract", contract, "--ipfs", ipfs,
                         "--home", str(tmp_path / "outsider"))
        verify.finish(ROUND_SECONDS)
        assert verify.lines[-1] == "1/1 finalized rounds verified"
    # The clients added their updates on B; the organization's node A pinned them, the base and the result.
    base = organization.wait_for(r"round 1: opened on (Qm\w+)", timeout=1).group(1)
    node_a = a.store()
    assert {cid: node_a.has(cid) for cid in (base, result, *updates)} == dict.fromkeys((base, result, *updates), True)
