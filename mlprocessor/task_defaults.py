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
    median, to this round's median), so they hold for any model size; `base_norm_fraction` is the
    bound of a first round, before any accepted median exists. `min_root_cosine` is the root-data
    screen's threshold (`run.py organization --root-data`): an update whose cosine with the base's
    descent direction on the organization's examples is below it is rejected. None where honest
    clients with skewed data point against that direction as far as attackers do: the screen
    cannot tell them apart, so the organization refuses root data for the task.
    """

    base_norm_fraction: float | None = 0.5
    history_norm_factor: float | None = 2.0
    round_norm_factor: float | None = 4.0
    fisher_max: float = 100.0
    min_root_cosine: float | None = -0.1
