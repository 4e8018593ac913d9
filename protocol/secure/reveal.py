"""The seeds a survivor reveals for the participants that dropped, as a small JSON file on IPFS.

Only seeds shared with dropped participants are ever revealed, and only after the submission
phase has closed on-chain: a dropped participant never published a masked update, so its seeds
protect nothing, while every survivor's update stays masked by the seeds it shares with the
other survivors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from protocol.secure.masked_file import MAX_PARTICIPANTS, MaskedFileError, parse_address, parse_hex_by_address

FORMAT = "fedchain-seed-reveal/1"
MAX_BYTES = 128 * MAX_PARTICIPANTS + 1024


class RevealFileError(MaskedFileError):
    """The bytes are not an acceptable seed reveal; the message says why."""


@dataclass(frozen=True)
class SeedReveal:
    round_id: int
    revealer: str
    seeds: Mapping[str, bytes]  # dropped participant's address -> the pair's seed for this round


def encode_reveal(reveal: SeedReveal) -> bytes:
    body = {"format": FORMAT, "round": reveal.round_id, "revealer": reveal.revealer.lower(),
            "seeds": {peer.lower(): seed.hex() for peer, seed in sorted(reveal.seeds.items())}}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def decode_reveal(data: bytes) -> SeedReveal:
    if len(data) > MAX_BYTES:
        raise RevealFileError(f"seed reveal of {len(data)} bytes exceeds the limit of {MAX_BYTES}")
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise RevealFileError(f"not a seed reveal: {error}") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise RevealFileError(f"not in format {FORMAT}")
    round_id, revealer, seeds = body.get("round"), body.get("revealer"), body.get("seeds")
    if not isinstance(round_id, int) or isinstance(round_id, bool) or round_id < 0:
        raise RevealFileError("round must be a non-negative integer")
    if not isinstance(revealer, str) or not isinstance(seeds, dict) or len(seeds) > MAX_PARTICIPANTS:
        raise RevealFileError("revealer must be an address and seeds an object")
    try:
        return SeedReveal(round_id, parse_address(revealer), parse_hex_by_address(seeds, "seed"))
    except MaskedFileError as error:
        raise RevealFileError(str(error)) from None
