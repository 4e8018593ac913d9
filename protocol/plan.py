"""The organization's instructions for a round, published in the base model's metadata.

Clients in other processes read the plan from the file they download, so everyone trains the
same way without a side channel; the strategy named in a result file is what `verify` reruns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from mlprocessor.aggregation import AggregationStrategy, strategy_from_name
from mlprocessor.aggregation.bounds import InfluenceBounds
from storage.model_file import ExtraValue

_PLAN_PREFIX = "plan."
_STRATEGY_KEY = "strategy"
_STRATEGY_PREFIX = "strategy."
_BOUNDS_PREFIX = "bounds."


@dataclass(frozen=True)
class TrainingPlan:
    """Local training the organization asks for; `mu` is set by the strategy (StrategySpec.configure)."""

    epochs: int = 1
    batch_size: int = 10
    lr: float = 0.05
    mu: float = 0.0
    fedcurv_lambda: float = 0.0  # > 0: clients publish their Fisher and add the FedCurv penalty
    momentum: float = 0.0  # of the task's optimiser (SGD with momentum for most tasks)

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch size must be at least 1")
        if not self.lr > 0 or self.mu < 0 or self.fedcurv_lambda < 0:
            raise ValueError("lr must be positive, mu and the FedCurv lambda non-negative")
        if not 0 <= self.momentum < 1:
            raise ValueError("momentum must be in [0, 1)")

    def to_extra(self) -> dict[str, ExtraValue]:
        values = asdict(self)
        if not self.momentum:  # plans without momentum publish what they did before it existed (same CIDs)
            del values["momentum"]
        return {_PLAN_PREFIX + key: value for key, value in values.items()}

    @classmethod
    def from_extra(cls, extra: Mapping[str, ExtraValue]) -> TrainingPlan:
        known = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in extra.items():
            name = key.removeprefix(_PLAN_PREFIX)
            if key.startswith(_PLAN_PREFIX) and name in known:
                values[name] = int(value) if name in ("epochs", "batch_size") else float(value)
        return cls(**values)


@dataclass(frozen=True)
class StrategySpec:
    """An aggregation rule by name with its parameters, e.g. trimmed-mean with beta=0.2."""

    name: str = "fedavg"
    params: dict[str, float] = field(default_factory=dict)

    def build(self) -> AggregationStrategy:
        return strategy_from_name(self.name, **self.params)

    def configure(self, plan: TrainingPlan) -> TrainingPlan:
        """The plan as this rule needs clients to train (FedProx's mu comes from the rule alone),
        as Flower's strategies configure their clients."""
        return replace(plan, mu=self.build().client_mu)

    def to_extra(self) -> dict[str, ExtraValue]:
        return {_STRATEGY_KEY: self.name, **{_STRATEGY_PREFIX + k: v for k, v in sorted(self.params.items())}}

    @classmethod
    def from_extra(cls, extra: Mapping[str, ExtraValue]) -> StrategySpec:
        if _STRATEGY_KEY not in extra:
            raise ValueError("the model file does not name the strategy that produced it")
        params = {key.removeprefix(_STRATEGY_PREFIX): value for key, value in extra.items()
                  if key.startswith(_STRATEGY_PREFIX)}
        return cls(str(extra[_STRATEGY_KEY]), params)


def bounds_to_extra(bounds: InfluenceBounds | None) -> dict[str, ExtraValue]:
    """The influence bounds a result was aggregated under, for `verify`; none: no keys (as before
    them); alignment off: no alignment keys (as before it)."""
    if bounds is None:
        return {}
    values = asdict(bounds)
    if not bounds.alignment:
        del values["alignment"], values["trajectory"]
    return {_BOUNDS_PREFIX + k: float(v) for k, v in sorted(values.items())}


def bounds_from_extra(extra: Mapping[str, ExtraValue]) -> InfluenceBounds | None:
    """The bounds a result records; None for results made before the bounds existed, alignment off
    for those made before alignment weighting."""
    known = {f.name for f in fields(InfluenceBounds)}
    values = {key.removeprefix(_BOUNDS_PREFIX): value for key, value in extra.items()
              if key.startswith(_BOUNDS_PREFIX)}
    if not values:
        return None
    if "alignment" not in values and "trajectory" not in values:
        values.update(alignment=0.0, trajectory=InfluenceBounds.trajectory)
    if set(values) != known or not all(isinstance(v, int | float) for v in values.values()):
        raise ValueError(f"the result's influence bounds {sorted(values)} are not {sorted(known)} as numbers")
    trajectory = values.pop("trajectory")
    if trajectory != int(trajectory):
        raise ValueError(f"the result's alignment trajectory {trajectory!r} is not a whole number of rounds")
    return InfluenceBounds(**{k: float(v) for k, v in values.items()}, trajectory=int(trajectory))
