"""Fixtures for the storage tests: one js-ipfs daemon for the whole session, stores to compare."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.embedded import EmbeddedStore
from storage.ipfs_daemon import IpfsHttpStore
from storage.jsipfs import JsIpfsDaemon, jsipfs_available
from tests.support import require_component


def pytest_configure(config: pytest.Config) -> None:
    # ipfshttpclient 0.7.0 passes urllib3 an argument it deprecated; harmless, and not ours to fix.
    config.addinivalue_line("filterwarnings", "ignore:The 'strict' parameter is no longer needed:FutureWarning")


@pytest.fixture(scope="session")
def jsipfs_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JsIpfsDaemon]:
    """A private js-ipfs daemon on free loopback ports; stopped by its PID at the end."""
    require_component(jsipfs_available(), "js-ipfs", "run `npm install` in the repository root")
    with JsIpfsDaemon(tmp_path_factory.mktemp("jsipfs")) as daemon:
        yield daemon


@pytest.fixture
def daemon_store(jsipfs_daemon: JsIpfsDaemon) -> IpfsHttpStore:
    return IpfsHttpStore(jsipfs_daemon.api_multiaddr, timeout=30)


@pytest.fixture
def embedded_store(tmp_path: Path) -> EmbeddedStore:
    return EmbeddedStore(tmp_path / "ipfs")
