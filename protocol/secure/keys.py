"""X25519 keys, the per-round secrets derived from them, pairwise seeds, share-box keys and commitments.

A client's long-term (registered) X25519 key only encrypts shares; each round it derives a fresh
masking key pair and a self-mask seed (`round_secrets`). The seed of a pair for a round is
HKDF-SHA256 of the X25519 agreement of their masking keys with the deployment (chain id,
contract), the round and both addresses in the info, so reconstructing a dropped participant's
masking key removes its masks in that round only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SEED_BYTES = 32
KEY_BYTES = 32
_SEED_LABEL = b"fedchain-secagg/2 pairwise seed"
_COMMIT_LABEL = b"fedchain-secagg/2 seed commitment"
_ROUND_LABEL = b"fedchain-secagg/2 round secrets"
_BOX_LABEL = b"fedchain-secagg/2 share box"


@dataclass(frozen=True)
class RoundContext:
    """What makes a round's seeds unique: the deployment and the round id."""

    chain_id: int
    contract: str
    round_id: int

    def info(self, first: str, second: str) -> bytes:
        low, high = sorted((_address_bytes(first), _address_bytes(second)))
        return _SEED_LABEL + self.encoded() + low + high

    def encoded(self) -> bytes:
        return self.chain_id.to_bytes(32, "big") + _address_bytes(self.contract) + self.round_id.to_bytes(32, "big")


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

    def exchange(self, peer_public: bytes) -> bytes:
        return self._private.exchange(X25519PublicKey.from_public_bytes(peer_public))

    def pair_seed(self, context: RoundContext, own_address: str, peer_address: str, peer_public: bytes) -> bytes:
        """The seed this participant shares with the peer in this round (the peer derives the same)."""
        if not usable_public_key(peer_public):
            raise ValueError(f"{peer_address} has no usable X25519 public key")
        shared = self._private.exchange(X25519PublicKey.from_public_bytes(peer_public))
        return HKDF(algorithm=hashes.SHA256(), length=SEED_BYTES, salt=None,
                    info=context.info(own_address, peer_address)).derive(shared)


@dataclass(frozen=True)
class RoundSecrets:
    """A participant's secrets for one round: the masking key pair of its pairwise masks and the
    seed of its self-mask. Both are Shamir-shared; at most one of them is ever reconstructed."""

    masking: KeyPair
    self_seed: bytes


def round_secrets(keys: KeyPair, context: RoundContext, own: str) -> RoundSecrets:
    """Derived from the long-term key (HKDF, one-way), so a restarted client finds the same ones and
    reconstructing them exposes this round only, never the long-term key or another round."""
    material = HKDF(algorithm=hashes.SHA256(), length=2 * SEED_BYTES, salt=None,
                    info=_ROUND_LABEL + context.encoded() + _address_bytes(own)).derive(keys.private_bytes())
    return RoundSecrets(KeyPair.from_private_bytes(material[:SEED_BYTES]), material[SEED_BYTES:])


def box_key(keys: KeyPair, context: RoundContext, dealer: str, recipient: str, peer_public: bytes) -> bytes:
    """The ChaCha20-Poly1305 key of the shares `dealer` sends `recipient` (X25519 of their registered
    keys, HKDF with the round and the direction); `peer_public` is the other party's registered key."""
    if not usable_public_key(peer_public):
        raise ValueError("no usable X25519 public key to encrypt shares with")
    shared = keys.exchange(peer_public)
    info = _BOX_LABEL + context.encoded() + _address_bytes(dealer) + _address_bytes(recipient)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared)


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


CURVE_PRIME = 2**255 - 19
# The canonical u-coordinates of small order (libsodium's list): 0, 1, p - 1 and the two points of order 8.
SMALL_ORDER = frozenset(u.to_bytes(KEY_BYTES, "little") for u in (
    0, 1, CURVE_PRIME - 1,
    325606250916557431795983626356110631294008115727848805560023387167927233504,
    39382357235489614581723060781553021112529911719440698176882885853963445705823))


def joining_key_problem(public: bytes) -> str | None:
    """Why the contract's `joinRound` refuses `public` as a participant's key (InvalidEncryptionKey),
    or None: a client checks its own before sending."""
    if len(public) != KEY_BYTES:
        return f"it is {len(public)} bytes, not {KEY_BYTES}"
    if int.from_bytes(public, "little") >= CURVE_PRIME:
        return "it is not in canonical form (the top bit set, or a u-coordinate of 2**255 - 19 or more)"
    if public in SMALL_ORDER:
        return "it is zero or a point of small order, whose shared secrets everyone knows"
    return None


_PROBE = X25519PrivateKey.from_private_bytes(hashlib.sha256(b"fedchain-secagg/1 probe").digest())


def commitment(secret: bytes) -> bytes:
    """SHA-256 commitment to a high-entropy secret (a self-mask seed, a share), published in a
    share bundle before any masking, so what is revealed later can be checked and attributed."""
    return hashlib.sha256(_COMMIT_LABEL + secret).digest()
