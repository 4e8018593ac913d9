"""Fixtures shared by every suite: a real Ganache and a real Anvil on free ports, started once per
worker and stopped by PID; a js-ipfs daemon; the small demo."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import torch

from chain.backends import GanacheChain
from chain.nodes import GanacheProcess, anvil_executable, start_anvil, start_ganache
from chain.paths import NODE_BIN
from storage.jsipfs import JsIpfsDaemon, jsipfs_available
from tests.processes import SMALL_DEMO, DemoRun, Service, Start, run_py
from tests.support import free_port, require_component


def pytest_configure(config: pytest.Config) -> None:
    # Small models on two cores: one torch thread is as fast, and leaves room for the
    # Ganache and IPFS processes the tests start (oversubscription costs 10x here).
    torch.set_num_threads(1)
    config.addinivalue_line("markers", "costly: a module of long end-to-end runs, scheduled first")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker more than the cores. Many tests wait on nodes, daemons and polls, so two
    workers left a fifth of two cores idle; a third filled it (668 tests on a quiet 2-core machine:
    407 s with 2 workers, 356 s with 3, 358 s with 4, the same CPU-seconds in each)."""
    return len(os.sched_getaffinity(0)) + 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules marked costly first, each module's tests kept in order: under `--dist loadfile`
    the workers then take the long modules while the queue is full and end together, rather than
    one of them starting a minute-long module when the other has nothing left."""
    items.sort(key=lambda item: item.get_closest_marker("costly") is None)


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


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GanacheChain]:
    """An Anvil node for protocol tests that send hundreds of transactions (each test deploys its own
    contract): it executes them in about a millisecond, the in-process EVM in about 50."""
    require_component(anvil_executable() is not None, "Anvil", "run ./setup.sh to install @foundry-rs/anvil")
    process = start_anvil(free_port(), None, tmp_path_factory.mktemp("anvil") / "anvil.log")
    yield GanacheChain(process.url)
    process.stop()


@pytest.fixture(scope="session")
def jsipfs_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JsIpfsDaemon]:
    """A private js-ipfs daemon on free loopback ports; stopped by its PID at the end."""
    require_component(jsipfs_available(), "js-ipfs", "run ./setup.sh to install the npm package ipfs")
    with JsIpfsDaemon(tmp_path_factory.mktemp("jsipfs")) as daemon:
        yield daemon


@pytest.fixture
def started() -> Iterator[Start]:
    """`started(*run_py_args, fault=None, prefix=())`: a `run.py` service stopped at the end of the test
    (SIGTERM, so that daemons stop the nodes they started, then SIGKILL); the last started first."""
    services: list[Service] = []

    def start(*args: str, fault: str | None = None, prefix: Sequence[str] = ()) -> Service:
        services.append(Service(*args, fault=fault, prefix=prefix))
        return services[-1]

    yield start
    for service in reversed(services):
        service.terminate()


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> DemoRun:
    """`run.py demo` with SMALL_DEMO on the default backends (a private Anvil), clients in two worker
    processes, its summary in the home: run once for the whole run, by the first xdist worker that
    asks (the others wait on a lock, then read what it left), and read by several tests (none may
    write to its home)."""
    if worker_id == "master":  # no xdist: the base's parent outlives this run, so nothing is shared there
        return _small_demo(tmp_path_factory.mktemp("small-demo"))
    home = tmp_path_factory.getbasetemp().parent / "small-demo"  # this run's, common to its workers
    with open(f"{home}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (output := home / "demo-output.json").exists():
            completed = subprocess.CompletedProcess(**json.loads(output.read_text()))
            return DemoRun(completed, home, json.loads((home / "demo-summary.json").read_text()))
        run = _small_demo(home)
        output.write_text(json.dumps({"args": run.completed.args, "returncode": run.completed.returncode,
                                      "stdout": run.completed.stdout, "stderr": run.completed.stderr}))
        return run


def _small_demo(home: Path) -> DemoRun:
    completed = run_py("demo", *SMALL_DEMO, "--workers", "2", "--home", str(home))
    return DemoRun(completed, home, json.loads((home / "demo-summary.json").read_text()))
