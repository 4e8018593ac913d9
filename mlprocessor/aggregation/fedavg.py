"""FedAvg (McMahan et al. 2017): the sample-weighted mean of the client deltas, with each
client's weight capped relative to the round (see `weights`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlprocessor.aggregation.base import AggregationStrategy, ClientUpdate, WeightedSum
from mlprocessor.aggregation.weights import DEFAULT_WEIGHT_CAP, capped_weights


@dataclass(frozen=True)
class FedAvg(AggregationStrategy):
    """FedProx (Li et al. 2020) aggregates exactly like FedAvg; its proximal term is client-side,
    so it is this class with ``client_mu > 0``."""

    client_mu: float = 0.0
    weight_cap: float | None = DEFAULT_WEIGHT_CAP  # a weight is at most this times the median sample count

    @property
    def name(self) -> str:  # type: ignore[override]
        return "fedprox" if self.client_mu > 0 else "fedavg"

    def mean_weights(self, sample_counts: Sequence[int]) -> np.ndarray:
        return capped_weights(list(sample_counts), self.weight_cap)

    def weights(self, sample_counts: Sequence[int]) -> list[float]:
        weights = self.mean_weights(sample_counts)
        return [float(w / weights.sum()) for w in weights]

    def combine(self, updates: Sequence[ClientUpdate]) -> dict[str, np.ndarray]:
        weights = self.mean_weights([u.sample_count for u in updates])
        total = WeightedSum(updates[0].delta)
        for weight, u in zip(weights, updates, strict=True):
            total.add(weight, u.delta)
        return total.divided_by(weights.sum())
