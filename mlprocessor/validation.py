"""Screening of client updates before aggregation; every rejection carries a reason."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from mlprocessor.aggregation.base import ClientUpdate


@dataclass(frozen=True)
class ValidationConfig:
    norm_factor: float | None = 10.0  # reject ||delta|| > norm_factor * median norm of the round
    max_samples: int = 1_000_000  # a claimed sample count above this is implausible


@dataclass(frozen=True)
class Rejection:
    index: int  # position in the submitted order
    update: ClientUpdate
    reason: str


@dataclass(frozen=True)
class ValidationReport:
    accepted: list[ClientUpdate] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


def l2_norm(delta: Mapping[str, np.ndarray]) -> float:
    return float(np.sqrt(sum(np.square(np.asarray(v, np.float64)).sum() for v in delta.values())))


def structural_problem(
    update: ClientUpdate, spec: Mapping[str, tuple[tuple[int, ...], str]], config: ValidationConfig
) -> str | None:
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


def validate_updates(
    updates: Sequence[ClientUpdate],
    spec: Mapping[str, tuple[tuple[int, ...], str]],
    config: ValidationConfig | None = None,
) -> ValidationReport:
    """Split ``updates`` (submission order kept) into accepted and rejected-with-reason.

    ``spec`` is :func:`mlprocessor.models.tensor_spec` of the round's architecture. The norm bound
    is relative to the median norm of the structurally valid updates of this round.
    """
    config = config or ValidationConfig()
    problems: dict[int, str] = {}
    norms: dict[int, float] = {}
    for i, update in enumerate(updates):
        problem = structural_problem(update, spec, config)
        if problem is None:
            norms[i] = l2_norm(update.delta)
        else:
            problems[i] = problem
    if config.norm_factor is not None and norms:
        bound = config.norm_factor * float(np.median(list(norms.values())))
        for i, norm in norms.items():
            if norm > bound:
                problems[i] = (f"update norm {norm:.4g} exceeds {config.norm_factor:g} x "
                               f"the round's median ({bound:.4g})")
    report = ValidationReport()
    for i, update in enumerate(updates):
        if i in problems:
            report.rejected.append(Rejection(i, update, problems[i]))
        else:
            report.accepted.append(update)
    return report
