"""Screening of client updates before aggregation; every rejection carries a reason.

Each rule bounds what one hostile client can do, with something it does not control:
- structure: the architecture's tensor names, shapes and dtypes, finite values, a sample count
  within the round's declared cap;
- Fisher sections (FedCurv): finite, non-negative, at most `fisher_max` per entry (a diagonal
  Fisher is an expected squared gradient, so it cannot be negative; on our models it stays
  under 1);
- duplicates: an update CID already submitted in the round counts once (the first time);
- free-riding: an update that carries no training (all zeros, or the base model itself sent as
  the change) is refused, so sybils cannot fill a round or dilute the honest mean with nothing;
- norm: a fixed bound as in Sun et al. 2019 ("Can you really backdoor federated learning?"),
  anchored to the base model's norm and to the accepted norms of the previous round, which
  this round's submitters cannot move; plus this round's outliers against its median.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from mlprocessor.aggregation.base import ClientUpdate
from mlprocessor.aggregation.bounds import l2_norm
from mlprocessor.task_defaults import ScreeningDefaults

TensorSpec = Mapping[str, tuple[tuple[int, ...], str]]


@dataclass(frozen=True)
class ValidationConfig:
    norm_factor: float | None = 4.0  # reject ||delta|| > norm_factor * median norm of the round
    base_norm_fraction: float | None = 0.5  # reject ||delta|| > fraction * ||theta_base||
    history_norm_factor: float | None = 2.0  # reject ||delta|| > factor * previous round's accepted median
    max_samples: int = 1_000_000  # a claimed sample count above this is implausible (the round's cap)
    fisher_max: float = 100.0  # largest plausible entry of a diagonal Fisher
    # with root data (mlprocessor/root_direction.py): reject an update whose cosine with the base's
    # descent direction on it is below this; slightly below 0, as honest skewed updates stray a little
    min_root_cosine: float | None = -0.1

    @classmethod
    def for_task(cls, defaults: ScreeningDefaults) -> ValidationConfig:
        """The bounds a task's authors calibrated for it (docs/BENCHMARKS.md, screening calibration)."""
        return cls(norm_factor=defaults.round_norm_factor, base_norm_fraction=defaults.base_norm_fraction,
                   history_norm_factor=defaults.history_norm_factor, fisher_max=defaults.fisher_max,
                   min_root_cosine=defaults.min_root_cosine)


@dataclass(frozen=True)
class Rejection:
    index: int  # position in the submitted order
    update: ClientUpdate
    reason: str


@dataclass(frozen=True)
class ValidationReport:
    accepted: list[ClientUpdate] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


def structural_problem(update: ClientUpdate, spec: TensorSpec, config: ValidationConfig) -> str | None:
    """Why one update is unusable on its own (architecture, values, sample count), or None."""
    names = set(update.delta)
    if names != set(spec):
        missing, extra = sorted(set(spec) - names), sorted(names - set(spec))
        return f"architecture mismatch: missing tensors {missing}, unexpected tensors {extra}"
    for name, (shape, dtype) in spec.items():
        value = update.delta[name]
        if tuple(np.shape(value)) != tuple(shape) or np.asarray(value).dtype != np.dtype(dtype):
            return (f"architecture mismatch: {name} is {np.asarray(value).dtype}{list(np.shape(value))}, "
                    f"expected {dtype}{list(shape)}")
        if not np.isfinite(value).all():
            return f"non-finite values in {name}"
    if not 0 < update.sample_count <= config.max_samples:
        return f"implausible sample count {update.sample_count} (allowed 1..{config.max_samples})"
    return None


def fisher_problem(fisher: Mapping[str, np.ndarray], spec: TensorSpec, limit: float,
                   what: str = "Fisher section") -> str | None:
    """Why a diagonal Fisher (or FedCurv's sum u of them) cannot be used, or None."""
    if set(fisher) != set(spec):
        return f"{what} does not have the model's tensors"
    for name, (shape, _) in spec.items():
        value = np.asarray(fisher[name])
        if tuple(value.shape) != tuple(shape):
            return f"{what} {name} has shape {list(value.shape)}, expected {list(shape)}"
        if not np.isfinite(value).all():
            return f"{what} {name} has non-finite values"
        if value.size and float(value.min()) < 0:
            return f"{what} {name} has negative values (min {float(value.min()):.4g}); a Fisher is non-negative"
        if value.size and float(value.max()) > limit:
            return f"{what} {name} has values up to {float(value.max()):.4g}, above the limit {limit:g}"
    return None


def free_ride_problem(delta: Mapping[str, np.ndarray], base: Mapping[str, np.ndarray] | None) -> str | None:
    """Why an update carries no training, or None: it changes nothing, or it is the base itself."""
    if all(not np.any(value) for value in delta.values()):
        return "free-riding: the update is all zeros (no training)"
    if base is not None and all(np.array_equal(delta[k], base[k]) for k in base):
        return "free-riding: the update is a copy of the base model, not a change to it (no training)"
    return None


def root_cosine(delta: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray]) -> float:
    """The cosine between an update and the descent direction on the root data (0 for a zero one)."""
    dot = sum(float(np.vdot(np.asarray(delta[k], np.float64), reference[k])) for k in reference)
    norms = l2_norm(delta) * l2_norm(reference)
    return dot / norms if norms > 0 else 0.0


def direction_problem(delta: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray],
                      min_cosine: float) -> str | None:
    """Why an update points against the descent direction on the organization's root data (a
    sign-flipped or reversed update), or None."""
    cosine = root_cosine(delta, reference)
    if cosine < min_cosine:
        return (f"points against the descent direction on the organization's root data: cosine {cosine:.3f}, "
                f"below {min_cosine:g}")
    return None


def duplicate_of(cids: Sequence[str], index: int) -> str | None:
    """'duplicate of update i' when the CID at `index` was already submitted at an earlier i."""
    first = cids.index(cids[index])
    return f"duplicate of update {first}" if first < index else None


@dataclass(frozen=True)
class NormBound:
    """An upper bound on ||delta|| and where it comes from, for the rejection reason."""

    limit: float
    source: str

    def problem(self, norm: float) -> str | None:
        if norm <= self.limit:
            return None
        return f"update norm {norm:.4g} exceeds {self.limit:.4g} ({self.source})"


def base_norm_bound(base_norm: float, config: ValidationConfig) -> NormBound | None:
    """Anchored to the base model: moved only by aggregates that were themselves bounded."""
    if config.base_norm_fraction is None or base_norm <= 0:
        return None
    return NormBound(config.base_norm_fraction * base_norm,
                     f"{config.base_norm_fraction:g} x the base model's norm {base_norm:.4g}")


def history_norm_bound(reference: float | None, config: ValidationConfig) -> NormBound | None:
    """Anchored to the median accepted norm of the round that produced the base."""
    if config.history_norm_factor is None or reference is None or reference <= 0:
        return None
    return NormBound(config.history_norm_factor * reference,
                     f"{config.history_norm_factor:g} x the previous round's accepted median {reference:.4g}")


def update_problem(update: ClientUpdate, spec: TensorSpec, config: ValidationConfig,
                   bound: NormBound | None, fisher: Mapping[str, np.ndarray] | None = None,
                   base: Mapping[str, np.ndarray] | None = None,
                   reference: Mapping[str, np.ndarray] | None = None) -> str | None:
    """Every rule that looks at one update alone; `fisher` only when FedCurv is on; `base` the
    round's base model (to recognise it sent back as an update); `reference` the descent direction
    on the organization's root data, when it holds some."""
    problem = structural_problem(update, spec, config) or free_ride_problem(update.delta, base)
    if problem is None and fisher is not None:
        problem = fisher_problem(fisher, spec, config.fisher_max)
    if problem is None and bound is not None:
        problem = bound.problem(l2_norm(update.delta))
    if problem is None and reference is not None and config.min_root_cosine is not None:
        problem = direction_problem(update.delta, reference, config.min_root_cosine)
    return problem


def round_problems(norms: Mapping[int, float], config: ValidationConfig,
                   history: NormBound | None) -> dict[int, str]:
    """Rules over the round's individually valid updates (index -> norm).

    The history bound applies when most updates fit it: if most do not (the data changed, a new
    task began), the fixed base bound still holds and the round is not stuck. Attackers can only
    make it apply (by sending small updates), never loosen the base bound.
    """
    problems: dict[int, str] = {}
    if history is not None and 2 * sum(n <= history.limit for n in norms.values()) > len(norms):
        problems.update({i: p for i, n in norms.items() if (p := history.problem(n))})
    if config.norm_factor is not None and norms:
        bound = config.norm_factor * float(np.median(list(norms.values())))
        for i, norm in norms.items():
            if norm > bound and i not in problems:
                problems[i] = (f"update norm {norm:.4g} exceeds {config.norm_factor:g} x "
                               f"the round's median ({bound:.4g})")
    return problems


def validate_updates(
    updates: Sequence[ClientUpdate],
    spec: TensorSpec,
    config: ValidationConfig | None = None,
    *,
    bound: NormBound | None = None,
    history: NormBound | None = None,
    base: Mapping[str, np.ndarray] | None = None,
    fishers: Sequence[Mapping[str, np.ndarray] | None] | None = None,
    keys: Sequence[str] | None = None,
    reference: Mapping[str, np.ndarray] | None = None,
) -> ValidationReport:
    """Split ``updates`` (submission order kept) into accepted and rejected-with-reason.

    ``spec`` is :func:`mlprocessor.models.tensor_spec` of the round's architecture; ``bound`` and
    ``history`` come from :func:`base_norm_bound` and :func:`history_norm_bound`; ``base`` is the
    round's base model; ``fishers`` the FedCurv sections (FedCurv rounds only); ``keys`` what
    identifies a submission (its CID): a repeated key counts once; ``reference`` the descent
    direction on the organization's root data (mlprocessor/root_direction.py), if it holds some.
    """
    config = config or ValidationConfig()
    problems: dict[int, str] = {}
    norms: dict[int, float] = {}
    for i, update in enumerate(updates):
        fisher = fishers[i] if fishers is not None else None
        problem = ((duplicate_of(keys, i) if keys is not None else None)
                   or update_problem(update, spec, config, bound, fisher, base, reference))
        if problem is None:
            norms[i] = l2_norm(update.delta)
        else:
            problems[i] = problem
    problems.update(round_problems(norms, config, history))
    report = ValidationReport()
    for i, update in enumerate(updates):
        if i in problems:
            report.rejected.append(Rejection(i, update, problems[i]))
        else:
            report.accepted.append(update)
    return report
