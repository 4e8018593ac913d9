"""`run.py ipfs daemon` as a real process, for the tests that spread the parties over several IPFS
nodes (and network namespaces); the `started` fixture (tests/conftest.py) stops every process."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cli.ipfs_address import daemon_multiaddr
from storage.ipfs_daemon import IpfsHttpStore
from tests.processes import Service, Start

NODE_START_SECONDS = 120  # a js-ipfs start takes about 3 s on a quiet machine, far more on a loaded one


@dataclass(frozen=True)
class IpfsNode:
    """A `run.py ipfs daemon` and what it printed at start."""

    service: Service
    api: str  # http://HOST:PORT, for --ipfs
    gateway: str  # gateway+http://HOST:PORT, for --ipfs
    addresses: list[str]  # its swarm multiaddrs, for another node's --peer


def pinned(api: str, cid: str) -> bool:
    """Whether the node at `api` (http://HOST:PORT) pins `cid`."""
    multiaddr = daemon_multiaddr(api)
    assert multiaddr is not None
    return IpfsHttpStore(multiaddr, timeout=30.0).has(cid)


def start_ipfs_node(start: Start, home: str, *options: str, prefix: Sequence[str] = ()) -> IpfsNode:
    service = start("ipfs", "daemon", "--home", home, *options, prefix=prefix)
    api = service.wait_for(r"Use it with --ipfs (\S+);", NODE_START_SECONDS).group(1)
    gateway = service.wait_for(r"its gateway with --ipfs (gateway\+\S+)$", 10).group(1)
    service.wait_for(r"^Ctrl-C to stop\.$", 10)
    addresses = [line.strip() for line in service.lines if line.startswith("  /") and "/p2p/" in line]
    assert addresses, "\n".join(service.lines)
    return IpfsNode(service, api, gateway, addresses)
