"""A private Ganache and js-ipfs daemon on free loopback ports for one section, stopped by PID."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from chain.backends import start_ganache
from storage.jsipfs import JsIpfsDaemon


@dataclass(frozen=True)
class RealBackends:
    chain_url: str
    ipfs_multiaddr: str

    def demo_options(self) -> dict[str, str]:
        return {"chain": self.chain_url, "ipfs": self.ipfs_multiaddr}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def real_backends(work: Path) -> Iterator[RealBackends]:
    ganache = start_ganache(_free_port(), work / "ganache-db", work / "ganache.log")
    try:
        with JsIpfsDaemon(work / "jsipfs") as daemon:
            yield RealBackends(ganache.url, daemon.api_multiaddr)
    finally:
        ganache.stop()
