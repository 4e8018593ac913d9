"""Shamir secret sharing of 32-byte secrets over the prime field GF(2^521 - 1).

A secret is the constant term of a random polynomial of degree t - 1; participant x (1-based,
its join index plus one) holds f(x). Any t shares give the secret back (Lagrange at 0), fewer say
nothing about it: every value of the secret is equally consistent with them. The Mersenne prime
2^521 - 1 exceeds every 32-byte secret, so no secret is reduced. Shares travel as 66 big-endian
bytes. Coefficients come from `secrets` (the operating system's generator).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence

PRIME = (1 << 521) - 1
SHARE_BYTES = 66
SECRET_BYTES = 32


def split(secret: bytes, xs: Sequence[int], threshold: int) -> dict[int, bytes]:
    """One share per coordinate in `xs` (distinct, 1..PRIME-1) so that any `threshold` recover `secret`."""
    if len(secret) != SECRET_BYTES:
        raise ValueError(f"a secret has {SECRET_BYTES} bytes, got {len(secret)}")
    if not 1 <= threshold <= len(xs) or len(set(xs)) != len(xs) or not all(0 < x < PRIME for x in xs):
        raise ValueError(f"cannot share among {len(xs)} distinct coordinates with threshold {threshold}")
    coefficients = [int.from_bytes(secret, "big")] + [secrets.randbelow(PRIME) for _ in range(threshold - 1)]
    return {x: _evaluate(coefficients, x).to_bytes(SHARE_BYTES, "big") for x in xs}


def combine(shares: Mapping[int, bytes]) -> bytes:
    """The secret from shares {x: f(x)}; exactly `threshold` of them (more are fine if consistent).

    Wrong shares give a wrong secret: callers check the result against a commitment."""
    if not shares:
        raise ValueError("no shares to combine")
    points = {x: parse_share(value) for x, value in shares.items()}
    secret = 0
    for x, y in points.items():
        numerator, denominator = 1, 1
        for other in points:
            if other != x:
                numerator = numerator * -other % PRIME
                denominator = denominator * (x - other) % PRIME
        secret = (secret + y * numerator * pow(denominator, -1, PRIME)) % PRIME
    if secret >> (8 * SECRET_BYTES):
        raise ValueError("the shares do not combine to a 32-byte secret (a wrong or inconsistent share)")
    return secret.to_bytes(SECRET_BYTES, "big")


def parse_share(value: bytes) -> int:
    if len(value) != SHARE_BYTES:
        raise ValueError(f"a share has {SHARE_BYTES} bytes, got {len(value)}")
    number = int.from_bytes(value, "big")
    if number >= PRIME:
        raise ValueError("a share outside the field")
    return number


def _evaluate(coefficients: list[int], x: int) -> int:
    result = 0
    for coefficient in reversed(coefficients):
        result = (result * x + coefficient) % PRIME
    return result
