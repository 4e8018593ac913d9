"""Fixtures for the storage tests: the stores to compare (the js-ipfs daemon is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from storage.embedded import EmbeddedStore
from storage.ipfs_daemon import IpfsHttpStore
from storage.jsipfs import JsIpfsDaemon
from tests.processes import Service
from tests.storage.nodes import Start


@pytest.fixture
def daemon_store(jsipfs_daemon: JsIpfsDaemon) -> IpfsHttpStore:
    return IpfsHttpStore(jsipfs_daemon.api_multiaddr, timeout=30)


@pytest.fixture
def embedded_store(tmp_path: Path) -> EmbeddedStore:
    return EmbeddedStore(tmp_path / "ipfs")


@contextmanager
def services_stopped_at_the_end() -> Iterator[Start]:
    """`start(*run_py_args, prefix=())`: a Service stopped when the block ends (SIGTERM, then SIGKILL),
    so that daemons stop the js-ipfs nodes they started; the last started is stopped first."""
    services: list[Service] = []

    def start(*args: str, prefix: Sequence[str] = ()) -> Service:
        service = Service(*args, prefix=prefix)
        services.append(service)
        return service

    try:
        yield start
    finally:
        for service in reversed(services):
            service.terminate()


@pytest.fixture
def started() -> Iterator[Start]:
    """Services stopped at the end of the test."""
    with services_stopped_at_the_end() as start:
        yield start
