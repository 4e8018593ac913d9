"""Influence bounds: what any one accepted update can do to a round, whatever rule combines them.

Screening rejects what is implausible; these bounds cap what is plausible, so an update just inside
the screening limits still moves the model no more than a typical one:

- norm clipping (Sun et al. 2019, "Can you really backdoor federated learning?"; Flower's
  fixed-clipping strategy wrapper): each delta is scaled down to at most `clip` times the
  smaller of this round's and the previous round's median accepted norm. A minority cannot move
  a median outside the honest range, and the previous round's is fixed before anyone submits;
  the current one follows the plan's local steps (E=1 and E=5 updates differ fivefold);
- claim capping: each sample count weighs at most `weight_cap` times the round's median claim
  (the breakdown-point argument of Yin et al. 2018), so claiming the maximum buys nothing;
- Fisher bounding (FedCurv, Shoham et al. 2019): each client's Fisher section is scaled down to at
  most `fisher` times the round's median section norm, so one section at the per-entry maximum
  cannot pin every other client to its parameters;
- alignment weighting (alignment.py): each capped claim is scaled down by how far the update's
  cosine with the model's movement over its last `trajectory` rounds falls short of `alignment`
  times the round's median cosine, so noise and reversed updates inside the other bounds weigh
  next to nothing.

Pure, deterministic float64 math: `verify` recomputes it from the files and the rule's factors
recorded in the result (`bounds.*`); results without them were made before the bounds existed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from mlprocessor.aggregation.alignment import aligned_claims, alignment_factors, cosine
from mlprocessor.aggregation.base import ClientUpdate

MAX_TRAJECTORY = 16  # rounds of history alignment may look back: each is one model file to fetch


def l2_norm(delta: Mapping[str, np.ndarray]) -> float:
    return float(np.sqrt(sum(np.square(np.asarray(v, np.float64)).sum() for v in delta.values())))


def clip_limit(norms: Sequence[float], previous_median: float | None, factor: float) -> float:
    """`factor` x min(median of `norms`, the previous round's accepted median when published)."""
    reference = float(np.median(np.asarray(norms, np.float64)))
    if previous_median is not None and previous_median > 0:
        reference = min(reference, previous_median)
    return factor * reference


def scaled_to(tensors: Mapping[str, np.ndarray], limit: float) -> dict[str, np.ndarray]:
    """`tensors` scaled down (float64) so that their joint L2 norm is at most `limit`."""
    norm = l2_norm(tensors)
    scale = limit / norm if norm > limit else 1.0
    return {k: np.asarray(v, np.float64) * scale for k, v in tensors.items()}


def capped_claims(counts: Sequence[int], cap: float) -> list[int]:
    """Each sample count lowered to at most `cap` x the median claim (integer, rounded down)."""
    limit = int(cap * float(np.median(counts)))
    return [max(1, min(n, limit)) for n in counts]


@dataclass(frozen=True)
class InfluenceBounds:
    """The factors of the bounds: clip, weight cap and Fisher at least 1 (the median update is never
    touched); alignment in [0, 1], the share of the median alignment that keeps a whole weight (0:
    off), measured against the model's movement over its last `trajectory` rounds."""

    clip: float = 2.0
    weight_cap: float = 1.0
    fisher: float = 2.0
    alignment: float = 0.25
    trajectory: int = 3

    def __post_init__(self) -> None:
        if not min(self.clip, self.weight_cap, self.fisher) >= 1 or not 0 <= self.alignment <= 1:
            raise ValueError(f"influence bounds must be at least 1 x the median and alignment in [0, 1], got {self}")
        if not (isinstance(self.trajectory, int) and 1 <= self.trajectory <= MAX_TRAJECTORY):
            raise ValueError(f"the trajectory must be 1 to {MAX_TRAJECTORY} rounds, got {self.trajectory!r}")

    def claims(self, claims: Sequence[int], cosines: Sequence[float] | None) -> list[int]:
        """The weights the rule sees: claims capped at the median, then scaled by each update's
        alignment, given its cosine with the model's recent movement (None: no movement yet)."""
        capped = capped_claims(claims, self.weight_cap)
        if not self.alignment or cosines is None:
            return capped
        return aligned_claims(capped, alignment_factors(cosines, self.alignment))

    def apply(self, updates: Sequence[ClientUpdate], previous_median: float | None,
              movement: Mapping[str, np.ndarray] | None = None) -> list[ClientUpdate]:
        """The updates as the rule sees them: clipped deltas, bounded claims; `movement` is the
        model's over its last `trajectory` rounds (None in the first round)."""
        if not updates:
            return []
        limit = clip_limit([l2_norm(u.delta) for u in updates], previous_median, self.clip)
        cosines = [cosine(u.delta, movement) for u in updates] if movement is not None else None
        counts = self.claims([u.sample_count for u in updates], cosines)
        return [replace(u, delta=scaled_to(u.delta, limit), sample_count=n)
                for u, n in zip(updates, counts, strict=True)]
