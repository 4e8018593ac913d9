"""Clients of a simulated federation training at once: in worker processes, or in threads.

A 2NN with batches of 10 is Python-bound, so clients in threads take turns on the GIL (1.1 of
2 cores measured). `ClientProcessPool` runs them in worker processes instead, one per core with
one torch thread each: each worker receives the clients' data once, when it starts, and reaches
the chain and the store by their addresses (a JSON-RPC URL, a store spec), never as live objects.
The organization stays in the calling process.

The in-process EVM cannot be reached from another process; there `ClientThreadPool` keeps the
clients in threads of this process.

Determinism does not depend on the number of workers: a client's training seed derives from
(seed, round, address), and its data and state directory from its index.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from chain.accounts import derived_account
from chain.backends import connect
from chain.contract import FederatedLearningContract
from chain.sending_policy import SendingPolicy
from client.orphans import end_with_parent
from client.service import Client, ClientSettings, Participation
from client.state import ClientState
from mlprocessor.data import Dataset
from protocol.timing import PhaseTimer
from storage.factory import open_store
from storage.store import ContentStore


@dataclass(frozen=True)
class SimulatedClient:
    """Everything that defines one simulated client, small enough to send to a worker."""

    label: str  # with the index, names the account (`chain.accounts.derived_account`)
    index: int
    data: Dataset


@dataclass(frozen=True)
class Connection:
    """How a worker reaches the federation: addresses only."""

    chain: str  # a JSON-RPC URL
    contract: str
    store: str  # `embedded` or a daemon multiaddr (see storage.factory.open_store)
    home: Path
    state_root: Path  # each client keeps its state in state_root / its address
    max_fee_wei: int | None = None  # `--max-fee-gwei`: caps every transaction the workers send too


def build_client(contract: FederatedLearningContract, store: ContentStore, spec: SimulatedClient,
                 settings: ClientSettings, state_root: Path) -> Client:
    account = derived_account(spec.label, spec.index)
    return Client(contract.with_account(account), store, spec.data, ClientState(state_root / account.address),
                  settings, log=_quiet)


def _quiet(_: str) -> None:
    """The caller prints per-round lines; per-client lines would drown them."""


class ClientPool(ABC):
    """Runs every client's participation in a round and reports each one as it finishes."""

    def __init__(self, executor: Executor, count: int) -> None:
        self._executor = executor
        self.count = count

    def participate_all(self, round_id: int, on_done: Callable[[], None] = lambda: None) -> list[Participation]:
        """Participations in client order (whatever order they finish in)."""
        futures = [self._submit(index, round_id) for index in range(self.count)]
        for _ in as_completed(futures):
            on_done()
        return [future.result() for future in futures]

    @abstractmethod
    def _submit(self, index: int, round_id: int) -> Future[Participation]: ...

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ClientPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ClientThreadPool(ClientPool):
    """Clients in threads of this process, sharing its chain connection (the embedded EVM)."""

    def __init__(self, clients: Sequence[Client], workers: int) -> None:
        super().__init__(ThreadPoolExecutor(max_workers=workers), len(clients))
        self._clients = list(clients)

    def _submit(self, index: int, round_id: int) -> Future[Participation]:
        return self._executor.submit(self._clients[index].participate, round_id)


class ClientProcessPool(ClientPool):
    """Clients in `workers` processes (forked on Linux, so they inherit the caller's imports; one
    torch thread each). The workers start at once, so their warm-up overlaps the caller's own
    start-up (data, deployment, registration);
    `connect` then says where the federation is and hands over the clients' data as one file
    each worker loads once (through a pipe, it would hold the caller until each worker is up)."""

    def __init__(self, settings: ClientSettings, workers: int) -> None:
        # fork before this process starts threads of its own: a forked worker skips 2-3 s of imports
        context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        executor = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_start_worker,
                                       initargs=(settings, os.getpid()))
        super().__init__(executor, 0)
        others = set(multiprocessing.active_children())
        for _ in range(workers):
            executor.submit(os.getpid)  # starts every worker now rather than at the first round
        self._workers = [process for process in multiprocessing.active_children() if process not in others]
        self._scratch = Path(tempfile.mkdtemp(prefix="fedchain-pool-"))
        self._job: tuple[Connection, Path] | None = None

    def connect(self, connection: Connection, clients: Sequence[SimulatedClient]) -> None:
        data_file = self._scratch / f"clients-{len(list(self._scratch.iterdir()))}.npz"
        np.savez(data_file, labels=np.array([c.label for c in clients]), indices=np.array([c.index for c in clients]),
                 **{f"x{i}": c.data.x for i, c in enumerate(clients)},
                 **{f"y{i}": c.data.y for i, c in enumerate(clients)})
        self._job, self.count = (connection, data_file), len(clients)

    def _submit(self, index: int, round_id: int) -> Future[Participation]:
        if self._job is None:
            raise RuntimeError("connect the pool to a deployment before running rounds")
        future: Future[Participation] = Future()
        remote = self._executor.submit(_participate, *self._job, index, round_id)
        remote.add_done_callback(lambda done: _settle(future, done, round_id))
        return future

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        for worker in self._workers:  # idle, their clients' state on disk: nothing is lost by ending them now
            worker.terminate()
        shutil.rmtree(self._scratch, ignore_errors=True)


def _settle(future: Future[Participation], done: Future[tuple[object, str | None, dict[str, float]]],
            round_id: int) -> None:
    """A worker's plain result back into a `Participation` (its timer does not cross processes)."""
    error = done.exception()
    if error is not None:
        future.set_exception(error)
        return
    entry, skipped, seconds = done.result()
    timer = PhaseTimer()
    for phase, value in seconds.items():
        timer.add(phase, value)
    future.set_result(Participation(round_id, entry, skipped, timer))  # type: ignore[arg-type]


class _Worker:
    """One worker process's clients, built on first use and kept for later rounds."""

    def __init__(self, settings: ClientSettings) -> None:
        self._settings = settings
        self._job: tuple[Connection, Path] | None = None
        self._specs: list[SimulatedClient] = []
        self._clients: dict[int, Client] = {}

    def client(self, connection: Connection, data_file: Path, index: int) -> Client:
        if (connection, data_file) != self._job:
            chain = connect(connection.chain, connection.home)
            SendingPolicy(max_fee_wei=connection.max_fee_wei).apply_to(chain.web3)
            self._contract = FederatedLearningContract(chain, connection.contract, derived_account("pool", 0))
            self._store = open_store(connection.store, connection.home)
            self._specs = _load_clients(data_file)
            self._job, self._clients = (connection, data_file), {}
        if index not in self._clients:
            self._clients[index] = build_client(self._contract, self._store, self._specs[index], self._settings,
                                                connection.state_root)
        return self._clients[index]


def _load_clients(data_file: Path) -> list[SimulatedClient]:
    with np.load(data_file) as arrays:
        names = zip(arrays["labels"].tolist(), arrays["indices"].tolist(), strict=True)
        return [SimulatedClient(label, index, Dataset(arrays[f"x{i}"], arrays[f"y{i}"]))
                for i, (label, index) in enumerate(names)]


_worker: _Worker | None = None


def _start_worker(settings: ClientSettings, parent: int) -> None:
    # A forked worker inherits the caller's stop handlers: it would print the caller's stop line and a
    # traceback into the caller's output when the pool ends it. Ctrl-C reaches the whole process group,
    # so the caller stops and ends its workers; the pool's SIGTERM ends a worker quietly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    end_with_parent(parent)
    torch.set_num_threads(1)  # processes x threads <= cores: oversubscription costs 10x here
    global _worker
    _worker = _Worker(settings)


def _participate(connection: Connection, data_file: Path, index: int,
                 round_id: int) -> tuple[object, str | None, dict[str, float]]:
    assert _worker is not None, "the pool's initializer did not run"
    participation = _worker.client(connection, data_file, index).participate(round_id)
    return participation.entry, participation.skipped, participation.timer.totals()
