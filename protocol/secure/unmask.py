"""Sum the survivors' masked updates, remove the masks left by dropped participants, decode the average.

The organization runs this to finalize a secure round and `verify` runs it again from public data.
Every revealed seed is checked against the commitment its revealer published with its masked
update, and the survivors' commitments to each other must agree, so a wrong seed or an
inconsistent mask is detected and attributed rather than silently corrupting the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from protocol.secure.fixed_point import decode_average
from protocol.secure.keys import commitment, usable_public_key
from protocol.secure.masked_file import MaskedUpdate
from protocol.secure.masks import expand, sign_for
from protocol.secure.reveal import SeedReveal


class UnmaskingError(ValueError):
    """The round's public data cannot be unmasked; the message names the participant at fault."""


def masked_peers(participants: Mapping[str, bytes]) -> set[str]:
    """The participants that share masks: those whose registered key is usable."""
    return {address.lower() for address, public in participants.items() if usable_public_key(public)}


def check_commitments(updates: Sequence[MaskedUpdate], participants: Mapping[str, bytes]) -> None:
    """Each survivor committed to a seed for every other masking participant, and survivor pairs agree."""
    everyone = masked_peers(participants)
    by_client = {u.client: u for u in updates}
    for update in updates:
        expected = everyone - {update.client} if update.client in everyone else set()
        if set(update.commitments) != expected:
            raise UnmaskingError(f"{update.client}'s masked update does not commit to a seed for exactly "
                                 f"the other {len(expected)} participants")
        for peer, value in update.commitments.items():
            other = by_client.get(peer)
            if other is not None and other.commitments.get(update.client) != value:
                raise UnmaskingError(f"{update.client} and {peer} committed to different seeds for their pair")


def check_reveals(updates: Sequence[MaskedUpdate], dropped: Sequence[str],
                  reveals: Mapping[str, SeedReveal]) -> None:
    """Every survivor that shares masks revealed, for exactly the dropped ones, the seeds it committed to."""
    missing = set(dropped)
    for update in updates:
        if not update.commitments:
            continue
        reveal = reveals.get(update.client)
        if reveal is None:
            raise UnmaskingError(f"{update.client} revealed no seeds for the {len(missing)} dropped participants")
        if set(reveal.seeds) != missing:
            raise UnmaskingError(f"{update.client} revealed seeds for other participants than the dropped ones")
        for peer, seed in reveal.seeds.items():
            if commitment(seed) != update.commitments.get(peer):
                raise UnmaskingError(f"{update.client} revealed a wrong seed for its pair with {peer}: "
                                     "it does not match the commitment in its masked update")


def unmask_average(updates: Sequence[MaskedUpdate], participants: Mapping[str, bytes],
                   reveals: Mapping[str, SeedReveal]) -> np.ndarray:
    """sum_k n_k delta_k / sum_k n_k over the survivors, float64, flat, after all the checks.

    `participants` is the round's fixed set (address -> registered X25519 key), survivors included.
    """
    if not updates:
        raise UnmaskingError("no masked updates to unmask")
    survivors = {u.client for u in updates}
    if len(survivors) != len(updates):
        raise UnmaskingError("a participant submitted twice")
    if not survivors <= {p.lower() for p in participants}:
        raise UnmaskingError("a masked update comes from outside the round's participants")
    dropped = sorted(masked_peers(participants) - survivors)
    check_commitments(updates, participants)
    if dropped:
        check_reveals(updates, dropped, reveals)
    total = np.zeros(updates[0].values.size, dtype=np.uint64)
    for update in updates:
        total += update.values
    for update in updates:
        for peer in dropped if update.commitments else ():
            residual = expand(reveals[update.client].seeds[peer], total.size)
            if sign_for(update.client, peer) > 0:
                total -= residual
            else:
                total += residual
    return decode_average(total, sum(u.sample_count for u in updates))
