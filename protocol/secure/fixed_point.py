"""Sample-weighted deltas as fixed-point integers in the ring Z/2^64 (numpy uint64, wrapping).

A client encodes round(n_k * delta_k * SCALE) mod 2^64, coordinate by coordinate. Masks are
uniform in the ring, so masked values reveal nothing; the masks cancel in the sum, which decodes
to sum_k n_k delta_k exactly up to rounding. The sum must not wrap around as a signed 64-bit
integer, which the bounds guarantee:

- each delta coordinate is clipped to the round's published bound, at most DELTA_BOUND (16; see
  protocol.secure.bounds for how a round's bound is derived);
- |n_k delta_k SCALE| <= n_k * 2^4 * 2^24 = n_k * 2^28, so |sum| <= N * 2^28 with N the round's
  total samples, and the sum cannot wrap while N < MAX_TOTAL_SAMPLES = 2^34 (2^62 / 2^28), leaving
  one bit of margin. Sample counts are public on-chain, so the bound is checked before unmasking.

Precision: rounding costs at most 2^-25 per client and coordinate, so the decoded average
sum_k n_k delta_k / N differs from the exact one by at most K 2^-25 / N <= 2^-25 (3e-8) per
coordinate, below float32's resolution for weights around 1.
"""

from __future__ import annotations

import numpy as np

SCALE_BITS = 24
SCALE = float(1 << SCALE_BITS)
DELTA_BOUND = 16.0
MAX_TOTAL_SAMPLES = 1 << 34
PRECISION = 2.0 ** -(SCALE_BITS + 1)


class RingOverflowError(ValueError):
    """The round's total samples are too large for the sum to be decoded without wrapping."""


def encode_weighted(delta: np.ndarray, samples: int, bound: float = DELTA_BOUND) -> tuple[np.ndarray, int]:
    """round(samples * clip(delta, bound) * SCALE) as ring elements, and how many coordinates were
    clipped; `bound` is the round's published clip bound, at most DELTA_BOUND."""
    if not 0 < bound <= DELTA_BOUND:
        raise ValueError(f"clip bound {bound} outside (0, {DELTA_BOUND}]: the fixed-point sum could wrap")
    if not 0 < samples < MAX_TOTAL_SAMPLES:
        raise ValueError(f"sample count must be in 1..{MAX_TOTAL_SAMPLES - 1}, got {samples}")
    values = np.asarray(delta, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError("the delta holds NaN or infinite values")
    clipped = int(np.count_nonzero(np.abs(values) > bound))
    weighted = np.clip(values, -bound, bound) * (samples * SCALE)
    return np.rint(weighted).astype(np.int64).view(np.uint64), clipped


def decode_average(ring_sum: np.ndarray, total_samples: int) -> np.ndarray:
    """The float64 average delta from the unmasked ring sum of weighted deltas and their total samples."""
    if not 0 < total_samples < MAX_TOTAL_SAMPLES:
        raise RingOverflowError(f"total samples {total_samples} outside 1..{MAX_TOTAL_SAMPLES - 1}: "
                                "the fixed-point sum could wrap")
    signed = np.asarray(ring_sum, dtype=np.uint64).view(np.int64).astype(np.float64)
    return signed / SCALE / total_samples
