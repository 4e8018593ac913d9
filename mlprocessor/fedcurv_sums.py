"""FedCurv's totals (Shoham et al. 2019) as running sums: u = sum_j F_j and v = sum_j F_j theta_j.

Accumulated in float64 in the order the pairs are added and returned as float32, so a round's
sections do not depend on how many pairs are held at once: the organization adds one accepted
update at a time (one model's memory, whatever the number of clients). Torch-free, like
aggregation and `verify`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mlprocessor.specs import StateDict


def check_same_tensors(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> None:
    if a.keys() != b.keys() or any(a[k].shape != np.shape(b[k]) for k in a):
        raise ValueError("Fisher and parameters do not describe the same tensors")


class FedCurvSums:
    """u and v over (Fisher, parameters) pairs added one by one."""

    def __init__(self) -> None:
        self._first: Mapping[str, np.ndarray] | None = None
        self._u: dict[str, np.ndarray] = {}
        self._v: dict[str, np.ndarray] = {}

    def add(self, fisher: Mapping[str, np.ndarray], anchor: Mapping[str, np.ndarray]) -> None:
        check_same_tensors(fisher, anchor)
        if self._first is None:
            self._first = fisher
            self._u = {k: np.zeros(fisher[k].shape, np.float64) for k in fisher}
            self._v = {k: np.zeros_like(u) for k, u in self._u.items()}
        check_same_tensors(self._first, fisher)
        for k, u in self._u.items():
            u += fisher[k]
            self._v[k] += fisher[k].astype(np.float64) * anchor[k]

    @property
    def added(self) -> bool:
        return self._first is not None

    def totals(self) -> tuple[StateDict, StateDict]:
        if self._first is None:
            raise ValueError("FedCurv totals need at least one contribution")
        return ({k: a.astype(np.float32) for k, a in self._u.items()},
                {k: a.astype(np.float32) for k, a in self._v.items()})
