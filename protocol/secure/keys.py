"""X25519 key pairs, the per-round seed each pair of participants shares, and commitments to seeds.

The seed of a pair for a round is HKDF-SHA256 of their X25519 shared secret with the deployment
(chain id, contract), the round and both addresses in the info, so a seed revealed for one round
says nothing about another round, another pair or another deployment. Revealing it therefore
only removes that pair's mask in that round.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SEED_BYTES = 32
KEY_BYTES = 32
_SEED_LABEL = b"fedchain-secagg/1 pairwise seed"
_COMMIT_LABEL = b"fedchain-secagg/1 seed commitment"


@dataclass(frozen=True)
class RoundContext:
    """What makes a round's seeds unique: the deployment and the round id."""

    chain_id: int
    contract: str
    round_id: int

    def info(self, first: str, second: str) -> bytes:
        low, high = sorted((_address_bytes(first), _address_bytes(second)))
        return (_SEED_LABEL + self.chain_id.to_bytes(32, "big") + _address_bytes(self.contract)
                + self.round_id.to_bytes(32, "big") + low + high)


def _address_bytes(address: str) -> bytes:
    raw = bytes.fromhex(address.removeprefix("0x"))
    if len(raw) != 20:
        raise ValueError(f"not a 20-byte address: {address!r}")
    return raw


def address_key(address: str) -> bytes:
    """The order in which masks are added (lower address) or subtracted (higher address)."""
    return _address_bytes(address)


class KeyPair:
    """A participant's X25519 key pair; the private key never leaves the client's home."""

    def __init__(self, private: X25519PrivateKey) -> None:
        self._private = private

    @classmethod
    def generate(cls) -> KeyPair:
        return cls(X25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, raw: bytes) -> KeyPair:
        return cls(X25519PrivateKey.from_private_bytes(raw))

    def private_bytes(self) -> bytes:
        return self._private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                           serialization.NoEncryption())

    def public_bytes(self) -> bytes:
        return self._private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def pair_seed(self, context: RoundContext, own_address: str, peer_address: str, peer_public: bytes) -> bytes:
        """The seed this participant shares with the peer in this round (the peer derives the same)."""
        if not usable_public_key(peer_public):
            raise ValueError(f"{peer_address} has no usable X25519 public key")
        shared = self._private.exchange(X25519PublicKey.from_public_bytes(peer_public))
        return HKDF(algorithm=hashes.SHA256(), length=SEED_BYTES, salt=None,
                    info=context.info(own_address, peer_address)).derive(shared)


def usable_public_key(public: bytes) -> bool:
    """A 32-byte X25519 key that gives a proper shared secret (not zero, not a low-order point).

    A participant without one shares no mask with anybody: honest peers and verifiers agree on
    that from the public key alone, so a hostile key cannot break the others' masking.
    """
    if len(public) != KEY_BYTES or public == bytes(KEY_BYTES):
        return False
    try:
        _PROBE.exchange(X25519PublicKey.from_public_bytes(public))
    except ValueError:  # cryptography refuses an all-zero shared secret (low-order point)
        return False
    return True


_PROBE = X25519PrivateKey.from_private_bytes(hashlib.sha256(b"fedchain-secagg/1 probe").digest())


def commitment(seed: bytes) -> bytes:
    """SHA-256 commitment to a seed, published with the masked update before anyone can have dropped."""
    return hashlib.sha256(_COMMIT_LABEL + seed).digest()
