"""FedAvgM (Hsu et al. 2019, "Measuring the Effects of Non-Identical Data Distribution for
Federated Visual Classification"; FedOpt with SGD + momentum in Reddi et al. 2021)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlprocessor.aggregation.server_optimizer import ServerOptimizer


@dataclass(frozen=True)
class FedAvgM(ServerOptimizer):
    """m <- momentum * m + delta; x <- x + server_lr * m, delta the mean client delta."""

    server_lr: float = 1.0
    momentum: float = 0.9
    name = "fedavgm"
    state_names = ("momentum",)

    def __post_init__(self) -> None:
        if not self.server_lr > 0 or not 0 <= self.momentum < 1:
            raise ValueError("fedavgm needs server_lr > 0 and momentum in [0, 1)")

    def step(self, gradient: dict[str, np.ndarray], state: dict[str, dict[str, np.ndarray]]
             ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
        momentum = {k: self.momentum * state["momentum"][k] + g for k, g in gradient.items()}
        return {k: self.server_lr * m for k, m in momentum.items()}, {"momentum": momentum}
