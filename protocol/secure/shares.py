"""A participant's share bundle: Shamir shares of its self-mask seed and masking key, one box per holder.

Dealt in the share phase, after the join phase fixed the holders (every joined participant, the
dealer included, at coordinate join index + 1). Each box is ChaCha20-Poly1305 under a key only
the dealer and that holder can derive (`keys.box_key`), with the round, dealer and holder as
associated data. Next to each box, in the clear, the commitments to the two shares inside, and
once for the bundle the commitment to the self-mask seed: a share revealed later is checked
against its commitment (a wrong one is attributed to its revealer) and a reconstructed seed
against the dealer's (an inconsistent dealing is attributed to the dealer).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from protocol.secure import shamir
from protocol.secure.keys import KeyPair, RoundContext, RoundSecrets, box_key, commitment, usable_public_key
from protocol.secure.masked_file import MAX_PARTICIPANTS, MaskedFileError, parse_address

FORMAT = "fedchain-share-bundle/1"
_NONCE_BYTES = 12
_PLAIN_BYTES = 2 * shamir.SHARE_BYTES
_BOX_BYTES = _PLAIN_BYTES + 16
MAX_BYTES = 700 * MAX_PARTICIPANTS + 1024


class ShareFileError(MaskedFileError):
    """The bytes are not an acceptable share bundle or reveal; the message says why."""


@dataclass(frozen=True)
class SealedShares:
    nonce: bytes
    box: bytes
    self_commitment: bytes  # commitment to the self-mask seed share inside
    key_commitment: bytes  # commitment to the masking-key share inside


@dataclass(frozen=True)
class ShareBundle:
    round_id: int
    dealer: str
    seed_commitment: bytes  # commitment to the dealer's self-mask seed
    boxes: Mapping[str, SealedShares]  # holder address -> its sealed shares


@dataclass(frozen=True)
class OpenedShares:
    self_share: bytes
    key_share: bytes


def _associated(context: RoundContext, dealer: str, holder: str) -> bytes:
    return FORMAT.encode() + context.encoded() + dealer.lower().encode() + holder.lower().encode()


def deal(keys: KeyPair, secrets: RoundSecrets, context: RoundContext, dealer: str,
         holders: Mapping[str, tuple[int, bytes]], threshold: int) -> ShareBundle:
    """Shares for every holder (address -> (join index, registered key)) with a usable key."""
    usable = {address.lower(): (index, public) for address, (index, public) in holders.items()
              if usable_public_key(public)}
    xs = [index + 1 for index, _ in usable.values()]
    self_shares = shamir.split(secrets.self_seed, xs, threshold)
    key_shares = shamir.split(secrets.masking.private_bytes(), xs, threshold)
    boxes = {}
    for holder, (index, public) in usable.items():
        plain = self_shares[index + 1] + key_shares[index + 1]
        nonce = os.urandom(_NONCE_BYTES)  # random: a restarted dealer never reuses a (key, nonce) pair
        sealed = ChaCha20Poly1305(box_key(keys, context, dealer, holder, public)).encrypt(
            nonce, plain, _associated(context, dealer, holder))
        boxes[holder] = SealedShares(nonce, sealed, commitment(self_shares[index + 1]),
                                     commitment(key_shares[index + 1]))
    return ShareBundle(context.round_id, dealer.lower(), commitment(secrets.self_seed), boxes)


def open_box(keys: KeyPair, context: RoundContext, bundle: ShareBundle, holder: str,
             dealer_public: bytes) -> OpenedShares:
    """The holder's two shares from the dealer, checked against their commitments, or ShareFileError."""
    sealed = bundle.boxes.get(holder.lower())
    if sealed is None:
        raise ShareFileError(f"{bundle.dealer}'s bundle has no shares for {holder.lower()}")
    try:
        plain = ChaCha20Poly1305(box_key(keys, context, bundle.dealer, holder, dealer_public)).decrypt(
            sealed.nonce, sealed.box, _associated(context, bundle.dealer, holder))
    except (InvalidTag, ValueError):
        raise ShareFileError(f"{bundle.dealer}'s shares for {holder.lower()} do not decrypt") from None
    opened = OpenedShares(plain[:shamir.SHARE_BYTES], plain[shamir.SHARE_BYTES:])
    if commitment(opened.self_share) != sealed.self_commitment or commitment(opened.key_share) != sealed.key_commitment:
        raise ShareFileError(f"{bundle.dealer}'s shares for {holder.lower()} do not match its commitments")
    return opened


def encode_bundle(bundle: ShareBundle) -> bytes:
    body = {"format": FORMAT, "round": bundle.round_id, "dealer": bundle.dealer,
            "seed_commitment": bundle.seed_commitment.hex(),
            "boxes": {holder: [s.nonce.hex(), s.box.hex(), s.self_commitment.hex(), s.key_commitment.hex()]
                      for holder, s in sorted(bundle.boxes.items())}}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def decode_bundle(data: bytes) -> ShareBundle:
    body = _load(data, MAX_BYTES, "share bundle", FORMAT)
    boxes = body.get("boxes")
    if not isinstance(boxes, dict) or len(boxes) > MAX_PARTICIPANTS:
        raise ShareFileError(f"boxes must be an object of at most {MAX_PARTICIPANTS} entries")
    parsed = {}
    for holder, fields in boxes.items():
        if not isinstance(fields, list) or len(fields) != 4:
            raise ShareFileError(f"the box for {str(holder)[:50]!r} must hold 4 hex strings")
        nonce, box, own, key = (_hex(value, size) for value, size in
                                zip(fields, (_NONCE_BYTES, _BOX_BYTES, 32, 32), strict=True))
        parsed[parse_address(str(holder))] = SealedShares(nonce, box, own, key)
    return ShareBundle(_round(body), _address(body, "dealer"), _hex(body.get("seed_commitment"), 32), parsed)


def _load(data: bytes, limit: int, what: str, expected: str) -> dict:
    if len(data) > limit:
        raise ShareFileError(f"{what} of {len(data)} bytes exceeds the limit of {limit}")
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise ShareFileError(f"not a {what}: {error}") from None
    if not isinstance(body, dict) or body.get("format") != expected:
        raise ShareFileError(f"not in format {expected}")
    return body


def _round(body: dict) -> int:
    value = body.get("round")
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ShareFileError("round must be a non-negative integer")
    return value


def _address(body: dict, key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str):
        raise ShareFileError(f"{key} must be an address")
    return parse_address(value)


def _hex(value: object, size: int) -> bytes:
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != size:
        raise ShareFileError(f"expected {size} bytes of hex")
    return raw


# ---------------------------------------------------------------- reveals

REVEAL_FORMAT = "fedchain-share-reveal/1"
MAX_REVEAL_BYTES = 300 * MAX_PARTICIPANTS + 1024


@dataclass(frozen=True)
class ShareReveal:
    """What a survivor reveals: for each other participant exactly one kind of share, decided from
    the contract's state: its self-mask share if it submitted, its masking-key share if not."""

    round_id: int
    revealer: str
    self_shares: Mapping[str, bytes]  # dealer that submitted -> share of its self-mask seed
    key_shares: Mapping[str, bytes]  # dealer that did not submit -> share of its masking key


def encode_reveal(reveal: ShareReveal) -> bytes:
    body = {"format": REVEAL_FORMAT, "round": reveal.round_id, "revealer": reveal.revealer.lower(),
            "self_shares": {d: v.hex() for d, v in sorted(reveal.self_shares.items())},
            "key_shares": {d: v.hex() for d, v in sorted(reveal.key_shares.items())}}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def decode_reveal(data: bytes) -> ShareReveal:
    body = _load(data, MAX_REVEAL_BYTES, "share reveal", REVEAL_FORMAT)
    kinds = []
    for key in ("self_shares", "key_shares"):
        raw = body.get(key)
        if not isinstance(raw, dict) or len(raw) > MAX_PARTICIPANTS:
            raise ShareFileError(f"{key} must be an object of at most {MAX_PARTICIPANTS} entries")
        kinds.append({parse_address(str(d)): _hex(v, shamir.SHARE_BYTES) for d, v in raw.items()})
    if kinds[0].keys() & kinds[1].keys():
        raise ShareFileError("a reveal holds both kinds of share for one participant")
    return ShareReveal(_round(body), _address(body, "revealer"), kinds[0], kinds[1])
