"""A federation in one process without chain or storage: the same local training, EWC memory,
FedCurv terms, screening, influence bounds and aggregation rules as the services, for runs too
long for the full stack on this machine (dozens of rounds of 10 clients). The protocol's own cost
is measured in other sections. Hostile clients are functions of their honest submission."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from mlprocessor.aggregation import AggregationStrategy, ClientUpdate, FedAvg
from mlprocessor.aggregation.alignment import movement
from mlprocessor.aggregation.bounds import InfluenceBounds
from mlprocessor.data import Dataset
from mlprocessor.ewc import EwcMemory, EwcState, fedcurv_penalty, fisher_diagonal
from mlprocessor.models import StateDict, initial_state, model_from_state
from mlprocessor.root_direction import root_direction
from mlprocessor.task_registry import get_task
from mlprocessor.training import QuadraticPenalty, TrainConfig, train_local
from mlprocessor.validation import ValidationConfig, base_norm_bound, history_norm_bound, l2_norm, validate_updates
from protocol.aggregate import fedcurv_sections
from protocol.artifacts import FEDCURV_U, FEDCURV_V
from storage.model_file import expected_spec


@dataclass(frozen=True)
class Method:
    """How the clients train and the server aggregates."""

    strategy: AggregationStrategy = field(default_factory=FedAvg)
    mu: float = 0.0  # FedProx
    ewc_lambda: float = 0.0
    fedcurv_lambda: float = 0.0
    screening: ValidationConfig | None = None  # screen as the organization does; None: accept every update
    bounds: InfluenceBounds | None = None  # clip, cap claims and bound Fishers as the organization does
    root: Dataset | None = None  # the organization's root data: screen updates by their direction on it


@dataclass(frozen=True)
class Submission:
    """What one client sends in a round: its update and, under FedCurv, its Fisher."""

    update: ClientUpdate
    fisher: StateDict | None = None
    key: str = ""  # stands for its CID: equal keys are the same file


# (federation, client index, its honest submission, the round's earlier submissions) -> what it sends
Attack = Callable[["LeanFederation", int, Submission, Sequence[Submission]], Submission]


@dataclass
class LeanClient:
    data: Dataset
    memory: EwcMemory = field(default_factory=EwcMemory)
    published: EwcState | None = None  # FedCurv: the Fisher and parameters this client sent last round


class LeanFederation:
    """Rounds of every client training on the global model, then the strategy aggregating."""

    def __init__(self, model: str, datasets: Sequence[Dataset], method: Method, epochs: int, batch_size: int,
                 lr: float, seed: int = 0, fisher_samples: int | None = None, momentum: float = 0.0,
                 attacks: Mapping[int, Attack] | None = None) -> None:
        self.model, self.method, self.seed = model, method, seed
        self.epochs, self.batch_size, self.lr, self.fisher_samples = epochs, batch_size, lr, fisher_samples
        self.momentum = momentum
        self.clients = [LeanClient(data) for data in datasets]
        self.state: StateDict = initial_state(model, seed=seed)
        self.server_state: dict[str, StateDict] = {}
        self.fedcurv: tuple[StateDict, StateDict] | None = None
        self.round = 0
        self.attacks = dict(attacks or {})  # client index -> what it sends instead of its honest submission
        self.previous_median: float | None = None  # the last round's accepted median norm (published)
        self.ancestors: list[StateDict] = []  # the last bases before this one, oldest first (alignment)
        self.rejections: list[dict[int, str]] = []  # per round: index -> reason

    def switch_data(self, datasets: Sequence[Dataset]) -> None:
        """New data on every client: each consolidates first (EWC), anchored at the global model."""
        for client, data in zip(self.clients, datasets, strict=True):
            if self.method.ewc_lambda > 0:
                client.memory.consolidate(self.state)
            client.data = data

    def run_round(self) -> StateDict:
        self.round += 1
        submissions = []
        for index, client in enumerate(self.clients):
            seed = _seed(self.seed, self.round, index)
            config = TrainConfig(self.epochs, self.batch_size, self.lr, self.method.mu, seed=seed,
                                 momentum=self.momentum)
            result = train_local(self.model, self.state, client.data, config, self._penalties(client))
            self._remember(client, result.state, seed)
            fisher = client.published.fisher if client.published is not None else None
            submission = Submission(ClientUpdate(result.delta(self.state), len(client.data)), fisher, f"{index}")
            attack = self.attacks.get(index)
            submissions.append(attack(self, index, submission, submissions) if attack else submission)
        accepted = self._screen(submissions)
        updates = [s.update for s in accepted]
        if self.method.bounds is not None:
            moved = movement(self.state, self.ancestors[0]) if self.ancestors else None
            updates = self.method.bounds.apply(updates, self.previous_median, moved)
        if self.method.fedcurv_lambda > 0:
            sections = fedcurv_sections(self.state, [u.delta for u in updates], [s.fisher for s in accepted],
                                        self.method.bounds.fisher if self.method.bounds else None)
            self.fedcurv = (sections[FEDCURV_U], sections[FEDCURV_V]) if sections else None
        if self.method.bounds is not None:
            self.ancestors = [*self.ancestors, self.state][-self.method.bounds.trajectory:]
        self.state, self.server_state = self.method.strategy.aggregate_with_state(
            self.state, updates, self.server_state)
        self.previous_median = float(np.median([l2_norm(s.update.delta) for s in accepted]))
        return self.state

    def _screen(self, submissions: list[Submission]) -> list[Submission]:
        """The submissions the organization would accept (all of them without screening)."""
        config = self.method.screening
        if config is None:
            self.rejections.append({})
            return submissions
        fedcurv = self.method.fedcurv_lambda > 0
        report = validate_updates(
            [s.update for s in submissions], expected_spec(self.state), config,
            bound=base_norm_bound(l2_norm(self.state), config),
            history=history_norm_bound(self.previous_median, config), base=self.state,
            fishers=[s.fisher if fedcurv else None for s in submissions],
            keys=[s.key for s in submissions],
            reference=self._root_direction())
        self.rejections.append({r.index: r.reason for r in report.rejected})
        return [s for i, s in enumerate(submissions) if i not in self.rejections[-1]]

    def _root_direction(self) -> StateDict | None:
        root = self.method.root
        return root_direction(get_task(self.model), self.state, root) if root is not None else None

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
