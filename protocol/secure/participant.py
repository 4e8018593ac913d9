"""What a participant computes: its share bundle, its double-masked update and, later, its reveal.

y_i = x_i + PRG(b_i) + sum_j (+/-) PRG(s_ij): x_i its sample-weighted delta in fixed point, b_i its
self-mask seed, s_ij the seed of the pair {i, j} from their round masking keys. Either b_i (if i
submitted) or i's masking key (if not) is reconstructed from t shares, never both, so y_i
stays hidden behind at least one mask that nobody can remove alone.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mlprocessor.specs import TensorSpec
from protocol.secure.fixed_point import DELTA_BOUND, encode_weighted
from protocol.secure.keys import KeyPair, RoundContext, RoundSecrets, usable_public_key
from protocol.secure.masked_file import MaskedUpdate, flatten_state
from protocol.secure.masks import apply_masks, expand
from protocol.secure.shares import ShareBundle, ShareFileError, ShareReveal, open_box

MIN_MASKING_PEERS = 2  # with one peer, that peer alone could remove the pairwise mask


def pair_members(masking_keys: Mapping[str, bytes]) -> dict[str, bytes]:
    """The participants that share pairwise masks: those whose round masking key is usable."""
    return {address.lower(): key for address, key in masking_keys.items() if usable_public_key(key)}


def expected_peers(masking_keys: Mapping[str, bytes], client: str) -> tuple[str, ...]:
    """The peers `client`'s masked update must declare: every other pair member (none if it is not one)."""
    members = pair_members(masking_keys)
    return tuple(sorted(set(members) - {client})) if client in members else ()


def pair_seeds(masking: KeyPair, context: RoundContext, own: str,
               masking_keys: Mapping[str, bytes]) -> dict[str, bytes]:
    """The seed shared with each other pair member (address -> round masking public key)."""
    return {peer: masking.pair_seed(context, own, peer, public)
            for peer, public in pair_members(masking_keys).items() if peer != own.lower()}


def mask_delta(delta: Mapping[str, np.ndarray], samples: int, architecture: str, spec: TensorSpec, base_cid: str,
               secrets: RoundSecrets, context: RoundContext, own: str,
               masking_keys: Mapping[str, bytes], clip: float = DELTA_BOUND) -> tuple[MaskedUpdate, int]:
    """The double-masked update for the round's fixed masking set (address -> round masking key),
    its delta clipped to `clip`, and how many coordinates were clipped. ValueError with fewer than
    two masking peers."""
    members = pair_members(masking_keys)
    if own.lower() not in members:
        raise ValueError("this participant's masking key is not among the round's usable ones")
    seeds = pair_seeds(secrets.masking, context, own, masking_keys)
    if len(seeds) < MIN_MASKING_PEERS:
        raise ValueError(f"only {len(seeds)} other participants with usable keys: with fewer than "
                         f"{MIN_MASKING_PEERS}, a peer could unmask this update")
    weighted, clipped = encode_weighted(flatten_state(delta, spec), samples, clip)
    masked = apply_masks(weighted + expand(secrets.self_seed, weighted.size), own, seeds)
    return MaskedUpdate(architecture, context.round_id, base_cid, samples, own.lower(), tuple(sorted(seeds)),
                        masked, spec), clipped


def reveal_shares(keys: KeyPair, context: RoundContext, own: str, bundles: Mapping[str, ShareBundle],
                  registered: Mapping[str, bytes], submitted: Mapping[str, bool]) -> tuple[ShareReveal, list[str]]:
    """Exactly one kind of share per dealer this survivor holds shares from: the self-mask share of
    a dealer that submitted, the masking-key share of one that did not (`submitted`, from the
    contract's state); dealers without a decision, a registered key or a box that opens get none.
    Also one line per box that could not be used."""
    self_shares, key_shares, problems = {}, {}, []
    for dealer, bundle in bundles.items():
        if dealer not in submitted or dealer not in registered:
            continue
        try:
            opened = open_box(keys, context, bundle, own, registered[dealer])
        except ShareFileError as error:
            problems.append(str(error))
            continue
        if submitted[dealer]:
            self_shares[dealer] = opened.self_share
        else:
            key_shares[dealer] = opened.key_share
    return ShareReveal(context.round_id, own.lower(), self_shares, key_shares), problems
