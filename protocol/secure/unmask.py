"""Sum the survivors' masked updates, remove the masks with the reconstructed secrets, decode the average.

The organization runs this to finalize a secure round and `verify` runs it again from public
data. For each survivor its self-mask seed is rebuilt from the first `threshold` valid self-mask
shares revealed (in on-chain reveal order); for each participant that did not submit its masking
key is rebuilt from key shares, and its pairwise masks with the survivors are removed. Every
revealed share is checked against the commitment its dealer published before masking: a wrong one
is set aside naming its revealer; a rebuilt secret that does not match its dealer's commitment (or
on-chain masking key) names the dealer. A share of the wrong kind is never used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from protocol.secure import shamir
from protocol.secure.fixed_point import decode_average
from protocol.secure.keys import KeyPair, RoundContext, commitment
from protocol.secure.masked_file import MaskedUpdate
from protocol.secure.masks import expand, sign_for
from protocol.secure.participant import expected_peers, pair_members
from protocol.secure.shares import ShareBundle, ShareReveal


class UnmaskingError(ValueError):
    """The round's public data cannot be unmasked; the message names the participant at fault."""


@dataclass(frozen=True)
class MaskingSet:
    """A secure round's public setup: who holds shares, who masks with which key, the threshold."""

    context: RoundContext
    indexes: Mapping[str, int]  # joined participant -> join index (its share coordinate is index + 1)
    masking_keys: Mapping[str, bytes]  # participant that posted shares -> its round masking public key
    threshold: int


@dataclass
class Unmasked:
    average: np.ndarray  # sum_k n_k delta_k / sum_k n_k, float64, flat
    set_aside: list[str] = field(default_factory=list)  # shares not used, and why (naming the revealer)


def unmask_average(updates: Sequence[MaskedUpdate], setup: MaskingSet, bundles: Mapping[str, ShareBundle],
                   reveals: Sequence[ShareReveal]) -> Unmasked:
    """The survivors' average after all the checks; `reveals` in on-chain order."""
    if not updates:
        raise UnmaskingError("no masked updates to unmask")
    survivors = [u.client for u in updates]
    if len(set(survivors)) != len(survivors):
        raise UnmaskingError("a participant submitted twice")
    outsiders = set(survivors) - set(setup.masking_keys)
    if outsiders:
        raise UnmaskingError(f"{sorted(outsiders)[0]} submitted without being in the masking set")
    members = set(pair_members(setup.masking_keys))
    for update in updates:
        expected = expected_peers(setup.masking_keys, update.client)
        if update.peers != expected:
            raise UnmaskingError(f"{update.client}'s masked update does not share masks with exactly the other "
                                 f"{len(expected)} participants of the masking set")
    set_aside: list[str] = []
    dropped = sorted(members - set(survivors))
    for reveal in reveals:  # an honest survivor never reveals the wrong kind: on record, never used
        wrong = (reveal.key_shares.keys() & set(survivors)) | (reveal.self_shares.keys() - set(survivors))
        set_aside.extend(f"{reveal.revealer} revealed the wrong kind of share for {dealer}" for dealer in sorted(wrong))
    self_seeds = {client: _rebuild(client, "self", setup, bundles, reveals, set_aside) for client in survivors}
    masking = {client: _rebuild(client, "key", setup, bundles, reveals, set_aside) for client in dropped}
    total = np.zeros(updates[0].values.size, dtype=np.uint64)
    for update in updates:
        total += update.values
    for client, seed in self_seeds.items():
        if commitment(seed) != bundles[client].seed_commitment:
            raise UnmaskingError(f"{client} dealt inconsistent shares: its self-mask seed rebuilt from "
                                 f"{setup.threshold} checked shares does not match its commitment")
        total -= expand(seed, total.size)
    for client, private in masking.items():
        keys = KeyPair.from_private_bytes(private)
        if keys.public_bytes() != setup.masking_keys[client]:
            raise UnmaskingError(f"{client} dealt inconsistent shares: its masking key rebuilt from "
                                 f"{setup.threshold} checked shares does not match the key it posted")
        for survivor in survivors:
            if survivor in members:  # the survivor added sign * mask of the pair: take it out
                residual = expand(keys.pair_seed(setup.context, client, survivor, setup.masking_keys[survivor]),
                                  total.size)
                if sign_for(survivor, client) > 0:
                    total -= residual
                else:
                    total += residual
    return Unmasked(decode_average(total, sum(u.sample_count for u in updates)), set_aside)


def _rebuild(dealer: str, kind: str, setup: MaskingSet, bundles: Mapping[str, ShareBundle],
             reveals: Sequence[ShareReveal], set_aside: list[str]) -> bytes:
    """One of `dealer`'s secrets from the first `threshold` revealed shares that match its commitments."""
    bundle = bundles.get(dealer)
    if bundle is None:
        raise UnmaskingError(f"{dealer}'s share bundle is unusable, so its "
                             f"{'self-mask' if kind == 'self' else 'masking key'} cannot be rebuilt")
    chosen: dict[int, bytes] = {}
    for reveal in reveals:
        share = (reveal.self_shares if kind == "self" else reveal.key_shares).get(dealer)
        if share is None:
            continue
        sealed, index = bundle.boxes.get(reveal.revealer), setup.indexes.get(reveal.revealer)
        expected = None if sealed is None else (sealed.self_commitment if kind == "self" else sealed.key_commitment)
        if index is None or commitment(share) != expected:
            set_aside.append(f"{reveal.revealer} revealed a wrong {kind} share for {dealer}")
        elif len(chosen) < setup.threshold:  # every share is checked, the first `threshold` valid ones used
            chosen[index + 1] = share
    if len(chosen) < setup.threshold:
        raise UnmaskingError(f"only {len(chosen)} valid {kind} shares for {dealer}, fewer than the threshold "
                             f"{setup.threshold}")
    try:
        return shamir.combine(chosen)
    except ValueError as error:
        raise UnmaskingError(f"{dealer} dealt inconsistent shares: {error}") from None
