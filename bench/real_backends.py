"""A private local chain (Ganache or Anvil) and js-ipfs daemon on free loopback ports for one
section, stopped by their PIDs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from chain.nodes import free_port, start_anvil, start_ganache
from storage.jsipfs import JsIpfsDaemon

CHAINS = ("anvil", "ganache")


@dataclass(frozen=True)
class RealBackends:
    chain: str  # "anvil" or "ganache"
    chain_url: str
    ipfs_multiaddr: str

    def demo_options(self) -> dict[str, str]:
        return {"chain": self.chain_url, "ipfs": self.ipfs_multiaddr}

    def anonymous(self, command: str) -> str:
        """A command line without this run's ports."""
        return (command.replace(self.chain_url, f"<{self.chain} URL>")
                .replace(self.ipfs_multiaddr, "<js-ipfs API multiaddr>"))


@contextmanager
def real_backends(work: Path, chain: str = "ganache") -> Iterator[RealBackends]:
    if chain == "anvil":
        node = start_anvil(free_port(), work / "anvil-state.json", work / "anvil.log")
    else:
        node = start_ganache(free_port(), work / "ganache-db", work / "ganache.log")
    try:
        with JsIpfsDaemon(work / "jsipfs") as daemon:
            yield RealBackends(chain, node.url, daemon.api_multiaddr)
    finally:
        node.stop()
