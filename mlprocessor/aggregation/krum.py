"""Krum and Multi-Krum (Blanchard et al. 2017): pick the deltas closest to their neighbours."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlprocessor.aggregation.base import AggregationStrategy, ClientUpdate


@dataclass(frozen=True)
class Krum(AggregationStrategy):
    """Score each delta by the summed squared distances to its n - f - 2 nearest others; average
    the ``m`` best (m = 1: Krum; m > 1: Multi-Krum; None: n - f). Ties go to the earlier update."""

    f: int = 1
    m: int | None = 1
    name = "krum"

    def minimum_updates(self) -> int:
        return max(self.f + 3, self.m or 1)

    def selected(self, updates: Sequence[ClientUpdate]) -> list[int]:
        """Indices of the chosen updates, best score first."""
        n = len(updates)
        neighbours = n - self.f - 2
        if self.f < 0 or neighbours < 1:
            raise ValueError(f"krum with f={self.f} needs at least {self.f + 3} updates, got {n}")
        keys = list(updates[0].delta)
        flat = np.stack([np.concatenate([np.asarray(u.delta[k], np.float64).ravel() for k in keys])
                         for u in updates])
        distances = np.full((n, n), np.inf)
        for i in range(n):  # explicit differences, not a BLAS Gram matrix: exact and thread-independent
            for j in range(i + 1, n):
                distances[i, j] = distances[j, i] = np.square(flat[i] - flat[j]).sum()
        scores = np.sort(distances, axis=1)[:, :neighbours].sum(axis=1)
        count = n - self.f if self.m is None else self.m
        if not 1 <= count <= n:
            raise ValueError(f"multi-krum m={count} must be between 1 and {n}")
        return [int(i) for i in np.argsort(scores, kind="stable")[:count]]

    def combine(self, updates: Sequence[ClientUpdate]) -> dict[str, np.ndarray]:
        chosen = self.selected(updates)
        return {k: np.mean([np.asarray(updates[i].delta[k], np.float64) for i in chosen], axis=0)
                for k in updates[0].delta}
