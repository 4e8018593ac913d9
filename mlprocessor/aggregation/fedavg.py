"""FedAvg (McMahan et al. 2017): the sample-weighted mean of the client deltas."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlprocessor.aggregation.base import AggregationStrategy, ClientUpdate


@dataclass(frozen=True)
class FedAvg(AggregationStrategy):
    """FedProx (Li et al. 2020) aggregates exactly like FedAvg; its proximal term is client-side,
    so it is this class with ``client_mu > 0``."""

    client_mu: float = 0.0

    @property
    def name(self) -> str:  # type: ignore[override]
        return "fedprox" if self.client_mu > 0 else "fedavg"

    def combine(self, updates: Sequence[ClientUpdate]) -> dict[str, np.ndarray]:
        total = sum(u.sample_count for u in updates)
        if total <= 0 or any(u.sample_count < 0 for u in updates):
            raise ValueError("fedavg needs non-negative sample counts with a positive total")
        combined = {k: np.zeros(np.shape(v), np.float64) for k, v in updates[0].delta.items()}
        for u in updates:  # fixed order: float64 sums in submission order are reproducible
            for k, acc in combined.items():
                acc += u.sample_count * np.asarray(u.delta[k], dtype=np.float64)
        return {k: acc / total for k, acc in combined.items()}
