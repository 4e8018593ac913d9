"""What a participant computes: its masked update (with seed commitments) and, later, its seed reveal."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mlprocessor.specs import TensorSpec
from protocol.secure.fixed_point import encode_weighted
from protocol.secure.keys import KeyPair, RoundContext, commitment, usable_public_key
from protocol.secure.masked_file import MaskedUpdate, flatten_state
from protocol.secure.masks import apply_masks
from protocol.secure.reveal import SeedReveal


def pair_seeds(keys: KeyPair, context: RoundContext, own: str,
               peers: Mapping[str, bytes]) -> dict[str, bytes]:
    """The seed shared with each peer (address -> X25519 public key) that has a usable key, self excluded."""
    return {peer.lower(): keys.pair_seed(context, own, peer, public)
            for peer, public in peers.items() if peer.lower() != own.lower() and usable_public_key(public)}


def mask_delta(delta: Mapping[str, np.ndarray], samples: int, architecture: str, spec: TensorSpec, base_cid: str,
               keys: KeyPair, context: RoundContext, own: str,
               participants: Mapping[str, bytes]) -> tuple[MaskedUpdate, int]:
    """The masked update for the round's fixed participant set, and how many coordinates were clipped."""
    weighted, clipped = encode_weighted(flatten_state(delta, spec), samples)
    registered = {address.lower(): public for address, public in participants.items()}.get(own.lower(), b"")
    # a participant registered without a usable key shares no mask, as everyone else sees from the chain
    seeds = pair_seeds(keys, context, own, participants) if usable_public_key(registered) else {}
    masked = apply_masks(weighted, own, seeds)
    commitments = {peer: commitment(seed) for peer, seed in seeds.items()}
    return MaskedUpdate(architecture, context.round_id, base_cid, samples, own.lower(), commitments, masked,
                        spec), clipped


def reveal_for(keys: KeyPair, context: RoundContext, own: str, dropped: Mapping[str, bytes]) -> SeedReveal:
    """The seeds this survivor shares with the dropped participants (address -> public key)."""
    return SeedReveal(context.round_id, own.lower(), pair_seeds(keys, context, own, dropped))
