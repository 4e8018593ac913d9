"""Pairwise masks: a seed expanded into uniform ring elements with ChaCha20, signed by address order.

Participant i adds the mask of pair {i, j} when its address is lower than j's and subtracts it
otherwise, so every pair's mask appears once with each sign in the sum and cancels exactly
(arithmetic mod 2^64).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from protocol.secure.keys import SEED_BYTES, address_key

_NONCE = bytes(16)  # ChaCha20's 64-bit counter and nonce; every seed is used for one stream only


def expand(seed: bytes, length: int) -> np.ndarray:
    """`length` pseudo-random uint64 ring elements from a 32-byte seed."""
    if len(seed) != SEED_BYTES:
        raise ValueError(f"a seed has {SEED_BYTES} bytes, got {len(seed)}")
    encryptor = Cipher(algorithms.ChaCha20(seed, _NONCE), mode=None).encryptor()
    stream = encryptor.update(bytes(8 * length))
    return np.frombuffer(stream, dtype="<u8").astype(np.uint64)


def sign_for(own_address: str, peer_address: str) -> int:
    """+1 when this participant adds the pair's mask, -1 when it subtracts it."""
    own, peer = address_key(own_address), address_key(peer_address)
    if own == peer:
        raise ValueError("a participant shares no mask with itself")
    return 1 if own < peer else -1


def apply_masks(values: np.ndarray, own_address: str, seeds: Mapping[str, bytes]) -> np.ndarray:
    """values plus or minus the mask of every pair, seeds keyed by the peer's address."""
    masked = np.array(values, dtype=np.uint64, copy=True)
    for peer, seed in seeds.items():
        mask = expand(seed, masked.size)
        if sign_for(own_address, peer) > 0:
            masked += mask
        else:
            masked -= mask
    return masked
