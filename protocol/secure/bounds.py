"""A secure round's published bounds and the check of its decoded sum.

Nobody sees an individual masked update, so integrity rests on two public limits and one check:

- the **clip bound**: every coordinate of every delta is clipped to it before masking. It lives in
  the base file's metadata (`secure_clip_bound`), set when that base was finalized to
  CLIP_FACTOR x the largest coordinate of its own round's average delta (never above the ring's
  DELTA_BOUND). A base without it (the initial model, or a history older than this rule) gets the
  task's screening default: `base_norm_fraction` x the base's norm, which a single coordinate of an
  acceptable update could never exceed anyway.
- the **claim cap** (`secure_max_samples`): CLAIM_FACTOR x the median claim of the base's round;
  the organization opens the round with it as `maxSamples`, so the contract refuses larger claims.
- the **sum check** after unmasking: every coordinate of the weighted average within the clip bound
  (each honest delta is clipped to it, so their average is too) and the average's norm at most
  `base_norm_fraction` x the base's norm. A sum that fails names no one: it only says the round
  must not be finalized.

Both bounds and the task's `base_norm_fraction` (`secure_norm_fraction`, in every model the
organization publishes) are in the base, so `verify` re-runs the sum check from public data alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mlprocessor.aggregation.bounds import l2_norm
from protocol.secure.fixed_point import DELTA_BOUND, PRECISION
from storage.model_file import ExtraValue

CLIP_KEY = "secure_clip_bound"
SAMPLES_KEY = "secure_max_samples"
FRACTION_KEY = "secure_norm_fraction"
CLIP_FACTOR = 4.0  # honest deltas' largest coordinates stay within a few times their average's
CLAIM_FACTOR = 2  # as plain rounds' claim cap: twice the median claim
MIN_CLIP = 1e-6  # a round whose average did not move still leaves honest clients some room


class BoundsError(ValueError):
    """The base publishes bounds no honest client can use (one line)."""


@dataclass(frozen=True)
class SecureBounds:
    clip: float  # per-coordinate bound of every delta before masking
    max_samples: int  # the most samples one masked update may claim

    def to_extra(self) -> dict[str, ExtraValue]:
        return {CLIP_KEY: self.clip, SAMPLES_KEY: self.max_samples}


def fraction_extra(base_norm_fraction: float | None) -> dict[str, ExtraValue]:
    """What every model the organization publishes says about the sum check of a secure round built
    on it: the task's `base_norm_fraction` (no key when the task sets none: no norm check)."""
    return {} if base_norm_fraction is None else {FRACTION_KEY: float(base_norm_fraction)}


def published_fraction(extra: Mapping[str, ExtraValue]) -> float | None:
    """The base's published `base_norm_fraction`; None when it publishes none (a history from before
    it was published, or a task without the norm check); BoundsError if it is not a positive number."""
    fraction = extra.get(FRACTION_KEY)
    if fraction is None:
        return None
    if not isinstance(fraction, int | float) or not math.isfinite(fraction) or fraction <= 0:
        raise BoundsError(f"the base's norm fraction {fraction!r} is not a positive number")
    return float(fraction)


def round_bounds(tensors: Mapping[str, np.ndarray], extra: Mapping[str, ExtraValue],
                 base_norm_fraction: float | None, default_max_samples: int) -> SecureBounds:
    """The bounds a base publishes for the secure round built on it; BoundsError if they are unusable."""
    clip, cap = extra.get(CLIP_KEY), extra.get(SAMPLES_KEY, default_max_samples)
    if clip is None:
        norm = l2_norm(tensors)
        clip = DELTA_BOUND if base_norm_fraction is None else min(DELTA_BOUND, base_norm_fraction * norm)
    if not isinstance(clip, int | float) or not math.isfinite(clip) or not MIN_CLIP <= clip <= DELTA_BOUND:
        raise BoundsError(f"the base's clip bound {clip!r} is not a number in [{MIN_CLIP}, {DELTA_BOUND}]")
    if not isinstance(cap, int) or cap < 1:
        raise BoundsError(f"the base's sample cap {cap!r} is not a positive integer")
    return SecureBounds(float(clip), min(cap, default_max_samples))


def next_bounds(average: np.ndarray, claims: Sequence[int], max_samples: int) -> SecureBounds:
    """What a finalized secure round publishes for the next one, from its own public outcome."""
    largest = float(np.max(np.abs(average))) if average.size else 0.0
    clip = min(DELTA_BOUND, max(MIN_CLIP, CLIP_FACTOR * largest))
    cap = min(max_samples, max(1, CLAIM_FACTOR * int(np.median(claims)))) if claims else max_samples
    return SecureBounds(clip, cap)


def sum_problem(average: np.ndarray, base: Mapping[str, np.ndarray], bounds: SecureBounds,
                base_norm_fraction: float | None) -> str | None:
    """Why the decoded average must not be applied to the base, or None (one line)."""
    if not np.all(np.isfinite(average)):
        return "the decoded average holds non-finite values"
    largest = float(np.max(np.abs(average))) if average.size else 0.0
    if largest > bounds.clip + PRECISION:
        outside = int(np.count_nonzero(np.abs(average) > bounds.clip + PRECISION))
        return (f"the decoded average has {outside} coordinates outside the published clip bound "
                f"{bounds.clip:.4g} (largest {largest:.4g}): some masked update is not a clipped delta")
    if base_norm_fraction is not None:
        norm, limit = float(np.linalg.norm(average)), base_norm_fraction * l2_norm(base)
        if norm > limit:
            return (f"the decoded average's norm {norm:.4g} exceeds {base_norm_fraction:g} x the base's norm "
                    f"({limit:.4g}): some masked update is oversized or overweighted")
    return None
