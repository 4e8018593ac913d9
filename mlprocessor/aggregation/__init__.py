"""Aggregation rules behind one interface and a registry keyed by the names the CLI uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlprocessor.aggregation.base import AggregationStrategy, ClientUpdate, CoordinateWise
from mlprocessor.aggregation.fedadam import FedAdam
from mlprocessor.aggregation.fedavg import FedAvg
from mlprocessor.aggregation.fedavgm import FedAvgM
from mlprocessor.aggregation.krum import Krum
from mlprocessor.aggregation.robust import Median, TrimmedMean
from mlprocessor.aggregation.server_optimizer import ServerOptimizer
from mlprocessor.aggregation.weights import DEFAULT_WEIGHT_CAP


def _fedprox(mu: float = 0.01, weight_cap: float | None = DEFAULT_WEIGHT_CAP) -> FedAvg:
    return FedAvg(client_mu=mu, weight_cap=weight_cap)


_REGISTRY: dict[str, Callable[..., AggregationStrategy]] = {
    "fedavg": FedAvg,
    "fedprox": _fedprox,
    "fedavgm": FedAvgM,
    "fedadam": FedAdam,
    "median": Median,
    "trimmed-mean": TrimmedMean,
    "krum": Krum,
    "multi-krum": lambda f=1, m=None: Krum(f=f, m=m),
}
STRATEGY_NAMES = tuple(_REGISTRY)


def strategy_from_name(name: str, **params: Any) -> AggregationStrategy:
    """E.g. ``strategy_from_name("trimmed-mean", beta=0.2)`` or ``("fedprox", mu=0.01)``."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGY_NAMES)}") from None
    try:
        return factory(**params)
    except TypeError as error:  # an unknown parameter, e.g. from a forged result file
        raise ValueError(f"strategy {name!r} does not take parameters {sorted(params)}: {error}") from None


__all__ = [
    "STRATEGY_NAMES", "AggregationStrategy", "ClientUpdate", "CoordinateWise", "FedAdam", "FedAvg", "FedAvgM",
    "Krum", "Median", "ServerOptimizer", "TrimmedMean", "strategy_from_name",
]
