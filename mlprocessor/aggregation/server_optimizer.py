"""Server optimizers (the FedOpt family of Reddi et al. 2021, "Adaptive Federated Optimization"):
the sample-weighted mean of the client deltas is a pseudo-gradient that a server-side optimizer
with its own state applies to the global model.

The state (momentum, first and second moments) is a dict of tensors shaped like the model; it
travels in each round's result file, so anyone can recompute the next round from the files alone.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence

import numpy as np

from mlprocessor.aggregation.base import AggregationStrategy, ClientUpdate
from mlprocessor.aggregation.fedavg import FedAvg
from mlprocessor.specs import StateDict

OptimizerState = dict[str, dict[str, np.ndarray]]


class ServerOptimizer(AggregationStrategy):
    """A stateful rule: ``aggregate`` without a state is its first round."""

    state_names: tuple[str, ...] = ()

    def mean_weights(self, sample_counts: Sequence[int]) -> np.ndarray:
        return FedAvg().mean_weights(sample_counts)

    def weights(self, sample_counts: Sequence[int]) -> list[float]:
        return FedAvg().weights(sample_counts)

    def combine(self, updates: Sequence[ClientUpdate]) -> dict[str, np.ndarray]:
        """The pseudo-gradient: FedAvg's sample-weighted mean delta, float64."""
        return FedAvg().combine(updates)

    def apply(self, base: Mapping[str, np.ndarray], combined: Mapping[str, np.ndarray],
              state: Mapping[str, Mapping[str, np.ndarray]]) -> tuple[StateDict, OptimizerState]:
        """The optimizer's step on the pseudo-gradient `combined`, from `state` (zeros in the first round)."""
        previous = {name: {k: np.asarray(state[name][k], np.float64) if name in state
                           else np.zeros(np.shape(base[k]), np.float64) for k in base}
                    for name in self.state_names}
        step, following = self.step(dict(combined), previous)
        model = {k: (np.asarray(base[k], np.float64) + step[k]).astype(np.float32) for k in base}
        return model, {name: {k: v.astype(np.float32) for k, v in tensors.items()}
                       for name, tensors in following.items()}

    @abstractmethod
    def step(self, gradient: dict[str, np.ndarray], state: dict[str, dict[str, np.ndarray]]
             ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
        """The change to apply to the model and the new state, from the pseudo-gradient, float64."""
