"""The aggregation interface: one small strategy class per rule, all applying a combined delta."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mlprocessor.specs import StateDict


@dataclass(frozen=True)
class ClientUpdate:
    """One client's incremental update theta_k - theta_base and the samples it trained on."""

    delta: Mapping[str, np.ndarray]
    sample_count: int
    client: str = ""  # who sent it (address, id); only for reasons and logs


class AggregationStrategy(ABC):
    """Combine the deltas (float64, in the given order) and apply the result to the base.

    Identical inputs give identical bytes, so anyone can recompute a round's result and its CID.
    """

    name: str = ""
    client_mu: float = 0.0  # FedProx weight the clients should use; 0 for plain local SGD

    def weights(self, sample_counts: Sequence[int]) -> list[float] | None:
        """Each update's share of the combination, for rules that weight updates; None for rules
        where no single update has a weight (median, trimmed mean, Krum)."""
        return None

    def minimum_updates(self) -> int:
        """Fewest accepted updates this rule can combine: a round must be able to provide them."""
        return 1

    def mean_weights(self, sample_counts: Sequence[int]) -> np.ndarray | None:
        """For a weighted-mean rule, each update's raw weight w_k (the combination is
        sum w_k delta_k / sum w_k, which can be summed one update at a time: `WeightedSum`);
        None for rules that need every update at once (median, trimmed mean, Krum)."""
        return None

    def aggregate(self, base: Mapping[str, np.ndarray], updates: Sequence[ClientUpdate]) -> StateDict:
        return self.aggregate_with_state(base, updates, {})[0]

    def check(self, base: Mapping[str, np.ndarray], updates: Sequence[ClientUpdate]) -> None:
        if not updates:
            raise ValueError(f"{self.name}: no updates to aggregate")
        if len(updates) < self.minimum_updates():
            raise ValueError(f"{self.name} needs at least {self.minimum_updates()} updates, got {len(updates)}")
        for i, update in enumerate(updates):
            if update.delta.keys() != base.keys():
                raise ValueError(f"{self.name}: update {i} does not match the base model's tensors")

    def aggregate_with_state(self, base: Mapping[str, np.ndarray], updates: Sequence[ClientUpdate],
                             state: Mapping[str, Mapping[str, np.ndarray]]) -> tuple[StateDict, dict[str, StateDict]]:
        """The next model and the rule's state for the next round (server optimizers carry one;
        the stateless rules ignore it and return none)."""
        self.check(base, updates)
        return self.apply(base, self.combine(updates), state)

    def apply(self, base: Mapping[str, np.ndarray], combined: Mapping[str, np.ndarray],
              state: Mapping[str, Mapping[str, np.ndarray]]) -> tuple[StateDict, dict[str, StateDict]]:
        """The combined delta (float64) applied to the base, float32; stateless: no state."""
        return {k: (np.asarray(base[k], dtype=np.float64) + combined[k]).astype(np.float32) for k in base}, {}

    @abstractmethod
    def combine(self, updates: Sequence[ClientUpdate]) -> dict[str, np.ndarray]:
        """The aggregated delta, float64, keyed like the updates."""


class CoordinateWise(AggregationStrategy):
    """A rule that reduces each coordinate independently over the stacked client deltas."""

    def combine(self, updates: Sequence[ClientUpdate]) -> dict[str, np.ndarray]:
        return {k: self.reduce(np.stack([np.asarray(u.delta[k], dtype=np.float64) for u in updates]))
                for k in updates[0].delta}

    @abstractmethod
    def reduce(self, stacked: np.ndarray) -> np.ndarray:
        """Reduce axis 0 (clients) of ``stacked``."""


class WeightedSum:
    """sum_k w_k delta_k in float64, one update at a time in the order given (float sums depend on
    it, so the on-chain submission order fixes the bytes): one model's memory, whatever the count."""

    def __init__(self, like: Mapping[str, np.ndarray]) -> None:
        self._totals = {k: np.zeros(np.shape(v), np.float64) for k, v in like.items()}

    def add(self, weight: float, delta: Mapping[str, np.ndarray]) -> None:
        for k, total in self._totals.items():
            total += weight * np.asarray(delta[k], dtype=np.float64)

    def divided_by(self, total_weight: float) -> dict[str, np.ndarray]:
        return {k: total / total_weight for k, total in self._totals.items()}
