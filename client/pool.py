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
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import torch

from chain.accounts import derived_account
from chain.backends import connect
from chain.contract import FederatedLearningContract
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
    state_dir: Path


@dataclass(frozen=True)
class Connection:
    """How a worker reaches the federation: addresses only."""

    chain: str  # a JSON-RPC URL
    contract: str
    store: str  # `embedded` or a daemon multiaddr (see storage.factory.open_store)
    home: Path


def build_client(contract: FederatedLearningContract, store: ContentStore, spec: SimulatedClient,
                 settings: ClientSettings) -> Client:
    account = derived_account(spec.label, spec.index)
    return Client(contract.with_account(account), store, spec.data, ClientState(spec.state_dir), settings,
                  log=_quiet)


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
    """Clients in `workers` processes (spawned, one torch thread each). The workers start at once
    and receive the clients' data, so their start-up overlaps the caller's deployment; `connect`
    then tells them where the federation is."""

    def __init__(self, clients: Sequence[SimulatedClient], settings: ClientSettings, workers: int) -> None:
        context = multiprocessing.get_context("spawn")  # no forked copy of torch's or web3's threads
        executor = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_start_worker,
                                       initargs=(tuple(clients), settings))
        super().__init__(executor, len(clients))
        for _ in range(workers):
            executor.submit(os.getpid)  # spawns every worker now rather than at the first round
        self._connection: Connection | None = None

    def connect(self, connection: Connection) -> None:
        self._connection = connection

    def _submit(self, index: int, round_id: int) -> Future[Participation]:
        if self._connection is None:
            raise RuntimeError("connect the pool to a deployment before running rounds")
        future: Future[Participation] = Future()
        remote = self._executor.submit(_participate, self._connection, index, round_id)
        remote.add_done_callback(lambda done: _settle(future, done, round_id))
        return future


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

    def __init__(self, clients: tuple[SimulatedClient, ...], settings: ClientSettings) -> None:
        self._specs = clients
        self._settings = settings
        self._connection: Connection | None = None
        self._clients: dict[int, Client] = {}

    def client(self, connection: Connection, index: int) -> Client:
        if connection != self._connection:
            chain = connect(connection.chain, connection.home)
            self._contract = FederatedLearningContract(chain, connection.contract, derived_account("pool", 0))
            self._store = open_store(connection.store, connection.home)
            self._connection, self._clients = connection, {}
        if index not in self._clients:
            self._clients[index] = build_client(self._contract, self._store, self._specs[index], self._settings)
        return self._clients[index]


_worker: _Worker | None = None


def _start_worker(clients: tuple[SimulatedClient, ...], settings: ClientSettings) -> None:
    torch.set_num_threads(1)  # processes x threads <= cores: oversubscription costs 10x here
    global _worker
    _worker = _Worker(clients, settings)


def _participate(connection: Connection, index: int, round_id: int) -> tuple[object, str | None, dict[str, float]]:
    assert _worker is not None, "the pool's initializer did not run"
    participation = _worker.client(connection, index).participate(round_id)
    return participation.entry, participation.skipped, participation.timer.totals()
