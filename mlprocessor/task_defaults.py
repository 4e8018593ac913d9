"""A task's defaults for training and for screening updates (no torch: screening and `verify` read them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainingDefaults:
    """Local training the task works well with; the organization's plan may override each value."""

    epochs: int = 1
    batch_size: int = 10
    lr: float = 0.05
    momentum: float = 0.0


@dataclass(frozen=True)
class ScreeningDefaults:
    """Bounds for screening updates, calibrated per task so that honest updates pass.

    The norm bounds are relative (to the base model's norm, to the previous round's accepted
    median, to this round's median), so they hold for any model size; `max_update_norm_fraction`
    is the bound for a first round, before any accepted median exists.
    """

    base_norm_fraction: float | None = 0.5
    history_norm_factor: float | None = 2.0
    round_norm_factor: float | None = 4.0
    fisher_max: float = 100.0
