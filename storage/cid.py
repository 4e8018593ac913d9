"""CIDv0 values: the text form Kubo prints for `ipfs add`, and the 32-byte digest the chain stores.

A CIDv0 is base58btc(0x12 0x20 || sha256 digest). The contract keeps only the digest (one
storage word); this module turns it back into the usual text so CIDs are recoverable from
chain data alone.
"""

from __future__ import annotations

from dataclasses import dataclass

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {char: value for value, char in enumerate(_ALPHABET)}
_SHA2_256 = 0x12
_DIGEST_LENGTH = 32
_MULTIHASH_PREFIX = bytes([_SHA2_256, _DIGEST_LENGTH])


class InvalidCidError(ValueError):
    """Raised for text that is not a CIDv0 (sha2-256, base58btc, 46 characters starting with Qm)."""


def _b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    encoded = ""
    while number:
        number, remainder = divmod(number, 58)
        encoded = _ALPHABET[remainder] + encoded
    leading_zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * leading_zeros + encoded


def _b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        if char not in _INDEX:
            raise InvalidCidError(f"invalid CID {text!r}: {char!r} is not a base58 character")
        number = number * 58 + _INDEX[char]
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    leading_zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * leading_zeros + body


@dataclass(frozen=True, order=True)
class Cid:
    """A CIDv0: the sha2-256 digest of a UnixFS DAG root, printed as `Qm...`."""

    digest: bytes

    def __post_init__(self) -> None:
        if len(self.digest) != _DIGEST_LENGTH:
            raise InvalidCidError(f"a CIDv0 digest is 32 bytes, got {len(self.digest)}")

    @classmethod
    def parse(cls, text: str) -> Cid:
        """Parse the text form; raises InvalidCidError with the reason when it is not a CIDv0."""
        if not isinstance(text, str):
            raise InvalidCidError(f"a CID is text, got {type(text).__name__}")
        text = text.strip()
        if len(text) != 46 or not text.startswith("Qm"):
            raise InvalidCidError(
                f"invalid CID {text!r}: expected a CIDv0 (46 characters starting with 'Qm')"
            )
        multihash = _b58decode(text)
        if len(multihash) != 34 or multihash[:2] != _MULTIHASH_PREFIX:
            raise InvalidCidError(f"invalid CID {text!r}: not a sha2-256 multihash")
        return cls(multihash[2:])

    @classmethod
    def from_digest(cls, digest: bytes | str) -> Cid:
        """Build from the 32-byte digest, as bytes or 0x-hex (what the contract returns)."""
        if isinstance(digest, str):
            digest = bytes.fromhex(digest.removeprefix("0x"))
        return cls(bytes(digest))

    @property
    def multihash(self) -> bytes:
        return _MULTIHASH_PREFIX + self.digest

    def __str__(self) -> str:
        return _b58encode(self.multihash)

    def __repr__(self) -> str:
        return f"Cid({str(self)!r})"


def as_cid(value: Cid | str) -> Cid:
    """Accept the text form too; malformed text raises InvalidCidError saying why."""
    return value if isinstance(value, Cid) else Cid.parse(value)
