"""Bounded FedAvg weights: a client's claimed sample count cannot buy it the round.

FedAvg (McMahan et al. 2017) weights each delta by the client's sample count, which only the
client knows; a client claiming a million samples replaces the global model (the boosting of
Bagdasaryan et al. 2020, "How to backdoor federated learning"). Each weight is capped at
`cap` times the round's median claim: a minority of clients cannot move the median (the
breakdown-point argument of Yin et al. 2018), and honest clients within `cap` times the
typical size keep their exact FedAvg weight.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_WEIGHT_CAP = 2.0


def capped_weights(sample_counts: Sequence[int], cap: float | None = DEFAULT_WEIGHT_CAP) -> np.ndarray:
    """min(n_k, cap * median(n)) per client, float64; `cap=None` gives the raw counts."""
    counts = np.asarray(sample_counts, dtype=np.float64)
    if counts.size == 0 or (counts < 0).any() or counts.sum() <= 0:
        raise ValueError("fedavg needs non-negative sample counts with a positive total")
    if cap is None:
        return counts
    if not cap >= 1:
        raise ValueError(f"the weight cap must be at least 1 (times the median sample count), got {cap}")
    return np.minimum(counts, cap * float(np.median(counts)))
