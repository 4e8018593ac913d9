"""Fixtures for the storage tests: the stores to compare (the js-ipfs daemon is in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.embedded import EmbeddedStore
from storage.ipfs_daemon import IpfsHttpStore
from storage.jsipfs import JsIpfsDaemon


@pytest.fixture
def daemon_store(jsipfs_daemon: JsIpfsDaemon) -> IpfsHttpStore:
    return IpfsHttpStore(jsipfs_daemon.api_multiaddr, timeout=30)


@pytest.fixture
def embedded_store(tmp_path: Path) -> EmbeddedStore:
    return EmbeddedStore(tmp_path / "ipfs")
