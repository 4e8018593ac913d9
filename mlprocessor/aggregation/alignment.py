"""Alignment weights: an update that does not go where the model has been going weighs less.

Clipping and claim capping bound how far and how heavily one update pulls; they cannot tell a
useful update from noise of the same size and claim. With three of ten clients sending noise
inside those bounds at the maximum claim (`inflate-samples`), the noise holds over a quarter of
the weight and, on non-IID data, costs the model 3 pp or more (docs/BENCHMARKS.md, section 8).

Each update's weight is multiplied by min(1, cos_k / (share x median cos)), cos_k being the
cosine between the update and the model's recent movement (the base minus the model it was made
from a few rounds back). That movement is fixed before anyone trains, as the previous round's
median norm is for clipping: noise is orthogonal to it and a reversed update points against it,
so both weigh next to nothing, while an honest update at `share` of the round's typical alignment
or better keeps its whole weight, so clients whose data differ from the rest are not pushed out.
A few rounds rather than one: late in training consecutive steps oscillate, and a single step is
a poor direction (honest updates then fall near 0 and reversed ones can rise above them). It is
FLTrust's cosine weighting (Cao et al. 2021) with the model's own trajectory in place of a root
data set. A client that knows the rule can still send noise with enough of the recent movement
in it; clipping bounds what that noise does, as before.

A cosine is one number per update, taken as the update is screened: aggregation still streams.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def movement(base: Mapping[str, np.ndarray], ancestor: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """How far the model moved, base - ancestor, float64 (the reference updates are compared with)."""
    return {k: np.asarray(base[k], np.float64) - np.asarray(ancestor[k], np.float64) for k in base}


def cosine(delta: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray]) -> float:
    """cos(delta, reference) over all tensors in name order, float64 numpy sums (the same bits on
    every machine); 0 when either is zero."""
    dot = norm_a = norm_b = 0.0
    for name in sorted(reference):
        a, b = np.asarray(delta[name], np.float64), reference[name]
        dot += float((a * b).sum())
        norm_a += float(np.square(a).sum())
        norm_b += float(np.square(b).sum())
    scale = float(np.sqrt(norm_a * norm_b))
    return dot / scale if scale > 0 else 0.0


def alignment_factors(cosines: Sequence[float], share: float) -> list[float]:
    """min(1, cos_k / (share x median cos)) per update, at least 0; all 1 when the round has no
    common direction with the recent movement (a median cosine at or below 0)."""
    typical = share * float(np.median(np.asarray(cosines, np.float64)))
    if not typical > 0:
        return [1.0] * len(cosines)
    return [min(1.0, max(0.0, c / typical)) for c in cosines]


def aligned_claims(claims: Sequence[int], factors: Sequence[float]) -> list[int]:
    """Each claim scaled by its factor, rounded, at least 1 (weights stay positive integers)."""
    return [max(1, round(n * f)) for n, f in zip(claims, factors, strict=True)]
