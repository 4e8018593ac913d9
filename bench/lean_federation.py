"""A federation in one process without chain or storage: the same local training, EWC memory,
FedCurv terms and aggregation rules as the services, for runs too long for the full stack on this
machine (dozens of rounds of 10 clients). The protocol's own cost is measured in other sections."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from mlprocessor.aggregation import AggregationStrategy, ClientUpdate, FedAvg
from mlprocessor.data import Dataset
from mlprocessor.ewc import EwcMemory, EwcState, fedcurv_penalty, fedcurv_totals, fisher_diagonal
from mlprocessor.models import StateDict, initial_state, model_from_state
from mlprocessor.training import QuadraticPenalty, TrainConfig, train_local


@dataclass(frozen=True)
class Method:
    """How the clients train and the server aggregates."""

    strategy: AggregationStrategy = field(default_factory=FedAvg)
    mu: float = 0.0  # FedProx
    ewc_lambda: float = 0.0
    fedcurv_lambda: float = 0.0


@dataclass
class LeanClient:
    data: Dataset
    memory: EwcMemory = field(default_factory=EwcMemory)
    published: EwcState | None = None  # FedCurv: the Fisher and parameters this client sent last round


class LeanFederation:
    """Rounds of every client training on the global model, then the strategy aggregating."""

    def __init__(self, model: str, datasets: Sequence[Dataset], method: Method, epochs: int, batch_size: int,
                 lr: float, seed: int = 0, fisher_samples: int | None = None, momentum: float = 0.0) -> None:
        self.model, self.method, self.seed = model, method, seed
        self.epochs, self.batch_size, self.lr, self.fisher_samples = epochs, batch_size, lr, fisher_samples
        self.momentum = momentum
        self.clients = [LeanClient(data) for data in datasets]
        self.state: StateDict = initial_state(model, seed=seed)
        self.server_state: dict[str, StateDict] = {}
        self.fedcurv: tuple[StateDict, StateDict] | None = None
        self.round = 0

    def switch_data(self, datasets: Sequence[Dataset]) -> None:
        """New data on every client: each consolidates first (EWC), anchored at the global model."""
        for client, data in zip(self.clients, datasets, strict=True):
            if self.method.ewc_lambda > 0:
                client.memory.consolidate(self.state)
            client.data = data

    def run_round(self) -> StateDict:
        self.round += 1
        updates = []
        for index, client in enumerate(self.clients):
            seed = _seed(self.seed, self.round, index)
            config = TrainConfig(self.epochs, self.batch_size, self.lr, self.method.mu, seed=seed,
                                 momentum=self.momentum)
            result = train_local(self.model, self.state, client.data, config, self._penalties(client))
            updates.append(ClientUpdate(result.delta(self.state), len(client.data)))
            self._remember(client, result.state, seed)
        published = [c.published for c in self.clients if c.published is not None]
        self.fedcurv = fedcurv_totals(published) if published else None
        self.state, self.server_state = self.method.strategy.aggregate_with_state(
            self.state, updates, self.server_state)
        return self.state

    def _penalties(self, client: LeanClient) -> list[QuadraticPenalty]:
        penalties = []
        if (ewc := client.memory.penalty(self.method.ewc_lambda)) is not None:
            penalties.append(ewc)
        if self.method.fedcurv_lambda > 0 and self.fedcurv is not None:
            penalties.append(fedcurv_penalty(self.fedcurv, client.published, self.method.fedcurv_lambda))
        return penalties

    def _remember(self, client: LeanClient, trained: StateDict, seed: int) -> None:
        if self.method.ewc_lambda <= 0 and self.method.fedcurv_lambda <= 0:
            return
        fisher = fisher_diagonal(model_from_state(self.model, trained), client.data, seed=seed,
                                 max_samples=self.fisher_samples)
        samples = len(client.data) if self.fisher_samples is None else min(len(client.data), self.fisher_samples)
        client.memory.hold(fisher, samples)
        if self.method.fedcurv_lambda > 0:
            client.published = EwcState(fisher, trained)


def _seed(seed: int, round_number: int, client: int) -> int:
    digest = hashlib.sha256(f"{seed}:{round_number}:{client}".encode()).digest()
    return int.from_bytes(digest[:4], "big")
