"""Hosts for tests: Linux network namespaces joined by a bridge that lives in a namespace of its own,
so the test's traffic never leaves the namespaces it created (root is needed; CI runs as root)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

SUBNET = "10.77.0"  # inside our own namespaces only: nothing outside them can see it
PREFIX_LENGTH = 24


class NamespaceError(RuntimeError):
    """A namespace or link could not be created (not root, no iproute2, ...)."""


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if result.returncode != 0:
        raise NamespaceError(f"ip {' '.join(args)}: {result.stderr.strip() or result.returncode}")


def namespaces_possible() -> bool:
    return os.geteuid() == 0 and shutil.which("ip") is not None


@dataclass
class Hosts:
    """Named "hosts" (namespaces) on one bridged subnet: `address[name]` is each one's IPv4 address.
    `prefix(name)` runs a command inside that host (`ip netns exec` execs it, so the PID stays)."""

    names: Sequence[str]
    tag: str = field(default_factory=lambda: f"fedchain-{os.getpid()}")
    address: dict[str, str] = field(default_factory=dict)
    _created: list[str] = field(default_factory=list)

    def namespace(self, name: str) -> str:
        return f"{self.tag}-{name}"

    def prefix(self, name: str) -> list[str]:
        return ["ip", "netns", "exec", self.namespace(name)]

    def create(self) -> None:
        """The bridge namespace, then each host with a veth pair to the bridge; delete() undoes a partial one."""
        bridge = self.namespace("bridge")
        self._add(bridge)
        _ip("-n", bridge, "link", "add", "br0", "type", "bridge")
        _ip("-n", bridge, "link", "set", "br0", "up")
        for number, name in enumerate(self.names, start=1):
            host = self.namespace(name)
            self._add(host)
            _ip("-n", host, "link", "set", "lo", "up")
            _ip("link", "add", "eth0", "netns", host, "type", "veth", "peer", "name", f"port{number}", "netns", bridge)
            _ip("-n", bridge, "link", "set", f"port{number}", "master", "br0", "up")
            self.address[name] = f"{SUBNET}.{number}"
            _ip("-n", host, "addr", "add", f"{self.address[name]}/{PREFIX_LENGTH}", "dev", "eth0")
            _ip("-n", host, "link", "set", "eth0", "up")

    def _add(self, namespace: str) -> None:
        _ip("netns", "add", namespace)
        self._created.append(namespace)

    def delete(self) -> list[str]:
        """Delete every namespace this created (their veth pairs go with them); the problems, if any."""
        problems = []
        for namespace in reversed(self._created):
            try:
                _ip("netns", "delete", namespace)
            except NamespaceError as error:
                problems.append(str(error))
        self._created.clear()
        return problems
