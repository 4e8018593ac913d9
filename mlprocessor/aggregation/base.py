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

    def aggregate(self, base: Mapping[str, np.ndarray], updates: Sequence[ClientUpdate]) -> StateDict:
        if not updates:
            raise ValueError(f"{self.name}: no updates to aggregate")
        for i, update in enumerate(updates):
            if update.delta.keys() != base.keys():
                raise ValueError(f"{self.name}: update {i} does not match the base model's tensors")
        combined = self.combine(updates)
        return {k: (np.asarray(base[k], dtype=np.float64) + combined[k]).astype(np.float32) for k in base}

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
