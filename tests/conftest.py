"""Fixtures shared by every suite: a real Ganache on a free port, started once and stopped by PID."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.backends import GanacheChain, GanacheProcess, start_ganache
from chain.paths import NODE_BIN
from tests.support import free_port, require_component


@pytest.fixture(scope="session")
def ganache_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GanacheProcess]:
    require_component((NODE_BIN / "ganache").exists(), "Ganache", "run ./setup.sh to install the npm package")
    home: Path = tmp_path_factory.mktemp("ganache")
    process = start_ganache(free_port(), home / "db", home / "ganache.log")
    yield process
    process.stop()


@pytest.fixture(scope="session")
def ganache(ganache_process: GanacheProcess) -> GanacheChain:
    return GanacheChain(ganache_process.url)
