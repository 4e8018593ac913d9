"""FedAdam (Reddi et al. 2021, "Adaptive Federated Optimization", Algorithm 2): Adam on the server
with the mean client delta as the pseudo-gradient; tau bounds the adaptivity (no bias correction,
as in the paper)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlprocessor.aggregation.server_optimizer import ServerOptimizer


@dataclass(frozen=True)
class FedAdam(ServerOptimizer):
    """m <- b1 m + (1 - b1) delta; v <- b2 v + (1 - b2) delta^2; x <- x + eta * m / (sqrt(v) + tau)."""

    eta: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.99
    tau: float = 1e-3
    name = "fedadam"
    state_names = ("adam_m", "adam_v")

    def __post_init__(self) -> None:
        if not (self.eta > 0 and self.tau > 0 and 0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ValueError("fedadam needs eta > 0, tau > 0 and betas in [0, 1)")

    def step(self, gradient: dict[str, np.ndarray], state: dict[str, dict[str, np.ndarray]]
             ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
        m = {k: self.beta1 * state["adam_m"][k] + (1 - self.beta1) * g for k, g in gradient.items()}
        v = {k: self.beta2 * state["adam_v"][k] + (1 - self.beta2) * np.square(g) for k, g in gradient.items()}
        return {k: self.eta * m[k] / (np.sqrt(v[k]) + self.tau) for k in m}, {"adam_m": m, "adam_v": v}
