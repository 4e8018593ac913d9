"""The masking library alone: masks cancel, the sum is FedAvg, a masked update hides its delta, bad seeds are caught."""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace

import numpy as np
import pytest
from safetensors.numpy import save

from mlprocessor.aggregation import ClientUpdate
from mlprocessor.aggregation.fedavg import FedAvg
from mlprocessor.task_registry import get_task
from protocol.secure import shamir
from protocol.secure.fixed_point import (
    DELTA_BOUND,
    PRECISION,
    SCALE,
    RingOverflowError,
    decode_average,
    encode_weighted,
)
from protocol.secure.keys import KeyPair, RoundContext, round_secrets
from protocol.secure.masked_file import MaskedFileError, decode_masked, encode_masked, flatten_state, unflatten
from protocol.secure.masks import apply_masks, expand
from protocol.secure.participant import mask_delta, pair_seeds, reveal_shares
from protocol.secure.shares import (
    ShareFileError,
    deal,
    decode_bundle,
    decode_reveal,
    encode_bundle,
    encode_reveal,
)
from protocol.secure.unmask import MaskingSet, UnmaskingError, unmask_average

ARCH = "2nn"
SPEC = get_task(ARCH).tensor_spec()
BASE_CID = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
CONTEXT = RoundContext(chain_id=1337, contract="0x" + "ab" * 20, round_id=3)


def random_delta(rng: np.random.Generator, scale: float = 0.01) -> dict[str, np.ndarray]:
    return {name: (rng.standard_normal(shape) * scale).astype(np.float32)
            for name, (shape, _) in SPEC.items()}


class Round:
    """Participants with keys, deltas and sample counts running the whole protocol in memory:
    shares dealt to every participant, double-masked updates, reveals decided from who submitted."""

    def __init__(self, count: int, seed: int = 0, threshold: int | None = None) -> None:
        rng = np.random.default_rng(seed)
        self.addresses = [f"0x{rng.integers(1 << 62):040x}" for _ in range(count)]
        self.keys = {a: KeyPair.generate() for a in self.addresses}
        self.publics = {a: k.public_bytes() for a, k in self.keys.items()}
        self.secrets = {a: round_secrets(k, CONTEXT, a) for a, k in self.keys.items()}
        self.masking_keys = {a: s.masking.public_bytes() for a, s in self.secrets.items()}
        self.deltas = {a: random_delta(rng) for a in self.addresses}
        self.samples = {a: int(rng.integers(50, 600)) for a in self.addresses}
        self.threshold = threshold or count // 2 + 1
        holders = {a: (index, self.publics[a]) for index, a in enumerate(self.addresses)}
        self.bundles = {a: deal(self.keys[a], self.secrets[a], CONTEXT, a, holders, self.threshold)
                        for a in self.addresses}

    @property
    def setup(self) -> MaskingSet:
        return MaskingSet(CONTEXT, {a: i for i, a in enumerate(self.addresses)}, self.masking_keys, self.threshold)

    def masked(self, address: str):
        update, clipped = mask_delta(self.deltas[address], self.samples[address], ARCH, SPEC, BASE_CID,
                                     self.secrets[address], CONTEXT, address, self.masking_keys)
        assert clipped == 0
        return update

    def reveals(self, revealers: list[str], survivors: list[str]):
        submitted = {a: a in survivors for a in self.addresses}
        return [reveal_shares(self.keys[r], CONTEXT, r, self.bundles, self.publics, submitted)[0] for r in revealers]

    def unmask(self, survivors: list[str], revealers: list[str] | None = None):
        updates = [self.masked(a) for a in survivors]
        reveals = self.reveals(survivors if revealers is None else revealers, survivors)
        return unmask_average(updates, self.setup, self.bundles, reveals)

    def fedavg(self, survivors: list[str]) -> np.ndarray:
        base = {name: np.zeros(shape, np.float32) for name, (shape, _) in SPEC.items()}
        updates = [ClientUpdate(self.deltas[a], self.samples[a]) for a in survivors]
        # secure rounds weight by the claimed counts (capped on-chain by maxSamples), not by the median cap
        return flatten_state(FedAvg(weight_cap=None).combine(updates), SPEC) + flatten_state(base, SPEC)


def test_pair_seeds_agree_between_peers_and_differ_between_rounds_and_pairs():
    federation = Round(3)
    a, b, c = federation.addresses
    masking = {x: federation.secrets[x].masking for x in federation.addresses}
    seeds_a = pair_seeds(masking[a], CONTEXT, a, federation.masking_keys)
    seeds_b = pair_seeds(masking[b], CONTEXT, b, federation.masking_keys)
    assert seeds_a[b] == seeds_b[a]
    assert seeds_a[b] != seeds_a[c]
    later = replace(CONTEXT, round_id=4)
    def raw(secrets):
        return secrets.masking.private_bytes(), secrets.self_seed
    assert raw(round_secrets(federation.keys[a], later, a)) != raw(federation.secrets[a])
    assert raw(round_secrets(federation.keys[a], CONTEXT, a)) == raw(federation.secrets[a])  # a restart: the same


def test_shamir_any_threshold_shares_rebuild_the_secret_and_fewer_do_not():
    secret = bytes(range(32))
    shares = shamir.split(secret, [1, 2, 3, 4, 5], 3)
    assert shamir.combine({x: shares[x] for x in (1, 3, 5)}) == secret
    assert shamir.combine({x: shares[x] for x in (2, 4, 5)}) == secret
    with contextlib.suppress(ValueError):  # two shares rebuild another field element, mostly not 32 bytes
        assert shamir.combine({x: shares[x] for x in (1, 2)}) != secret


def test_masks_cancel_exactly_in_the_sum():
    federation = Round(4)
    rng = np.random.default_rng(1)
    values = {a: rng.integers(0, 1 << 64, 1000, dtype=np.uint64) for a in federation.addresses}
    masked = [apply_masks(values[a], a, pair_seeds(federation.keys[a], CONTEXT, a, federation.publics))
              for a in federation.addresses]
    assert all(not np.array_equal(m, values[a]) for m, a in zip(masked, federation.addresses, strict=True))
    np.testing.assert_array_equal(np.sum(masked, axis=0, dtype=np.uint64),
                                  np.sum(list(values.values()), axis=0, dtype=np.uint64))


def test_unmasked_sum_equals_plain_fedavg_within_fixed_point_precision():
    federation = Round(5)
    unmasked = federation.unmask(federation.addresses)
    assert np.max(np.abs(unmasked.average - federation.fedavg(federation.addresses))) <= PRECISION
    assert not unmasked.set_aside


@pytest.mark.parametrize("dropped_count", [1, 2])
def test_dropped_participants_masks_are_removed_with_the_survivors_key_shares(dropped_count):
    federation = Round(5, seed=dropped_count, threshold=3)
    survivors = federation.addresses[dropped_count:]
    unmasked = federation.unmask(survivors)
    assert np.max(np.abs(unmasked.average - federation.fedavg(survivors))) <= PRECISION


def test_n_minus_t_silent_survivors_do_not_stop_the_unmasking():
    federation = Round(5, threshold=3)
    survivors = federation.addresses[1:]
    unmasked = federation.unmask(survivors, revealers=survivors[:3])  # one dropped, one survivor silent
    assert np.max(np.abs(unmasked.average - federation.fedavg(survivors))) <= PRECISION
    with pytest.raises(UnmaskingError, match="fewer than the threshold 3"):
        federation.unmask(survivors, revealers=survivors[:2])


def test_a_survivor_reveals_one_kind_of_share_per_participant_and_never_both():
    federation = Round(5)
    survivors, dropped = federation.addresses[1:], federation.addresses[0]
    for reveal in federation.reveals(survivors, survivors):
        assert set(reveal.key_shares) == {dropped}
        assert set(reveal.self_shares) == set(survivors)


def test_a_wrong_revealed_share_is_set_aside_naming_its_revealer():
    federation = Round(5, threshold=3)
    survivors, dropped = federation.addresses[1:], federation.addresses[0]
    updates = [federation.masked(a) for a in survivors]
    reveals = federation.reveals(survivors, survivors)
    liar = reveals[0].revealer
    reveals[0] = replace(reveals[0], key_shares={dropped: bytes(shamir.SHARE_BYTES)},
                         self_shares={**reveals[0].self_shares, survivors[1]: bytes(shamir.SHARE_BYTES)})
    unmasked = unmask_average(updates, federation.setup, federation.bundles, reveals)
    assert f"{liar} revealed a wrong key share for {dropped}" in unmasked.set_aside
    assert f"{liar} revealed a wrong self share for {survivors[1]}" in unmasked.set_aside
    assert np.max(np.abs(unmasked.average - federation.fedavg(survivors))) <= PRECISION


def test_a_survivor_masking_with_another_set_than_the_chains_is_named_not_its_peers():
    federation = Round(4)
    updates = [federation.masked(a) for a in federation.addresses]
    cheat = updates[0]
    updates[0] = replace(cheat, peers=cheat.peers[1:])
    with pytest.raises(UnmaskingError, match=f"{cheat.client}'s masked update does not share masks"):
        unmask_average(updates, federation.setup, federation.bundles, federation.reveals(federation.addresses,
                                                                                         federation.addresses))


def test_a_late_clients_file_stays_hidden_behind_its_self_mask_after_its_key_is_rebuilt():
    """Row 1: a client uploaded its masked file but its submission came too late. The survivors reveal
    its key shares (its pairwise masks come off) but never its self-mask shares."""
    federation = Round(5, threshold=3)
    late, survivors = federation.addresses[0], federation.addresses[1:]
    leaked = federation.masked(late).values.copy()  # on IPFS, never on-chain
    reveals = federation.reveals(survivors, survivors)
    key = KeyPair.from_private_bytes(shamir.combine(
        {federation.addresses.index(r.revealer) + 1: r.key_shares[late] for r in reveals[:3]}))
    for peer in survivors:  # everything a coalition of the public and the organization can remove
        seed = key.pair_seed(CONTEXT, late, peer, federation.masking_keys[peer])
        leaked -= expand(seed, leaked.size) if late < peer else -expand(seed, leaked.size)
    assert all(late not in r.self_shares for r in reveals)
    delta = flatten_state(federation.deltas[late], SPEC)
    with_self_mask = leaked.view(np.int64).astype(np.float64)
    assert abs(np.corrcoef(with_self_mask, delta)[0, 1]) < 0.02
    exposed = (leaked - expand(federation.secrets[late].self_seed, leaked.size)).view(np.int64).astype(np.float64)
    assert np.corrcoef(exposed, delta)[0, 1] > 0.99  # the test can tell: only the self-mask protects it


def test_a_masked_update_is_uncorrelated_with_the_clients_delta():
    federation = Round(3)
    address = federation.addresses[0]
    delta = flatten_state(federation.deltas[address], SPEC)
    masked = federation.masked(address).values.view(np.int64).astype(np.float64) / SCALE
    unmasked, _ = encode_weighted(delta, federation.samples[address])
    assert np.corrcoef(unmasked.view(np.int64).astype(np.float64), delta)[0, 1] > 0.99  # the test can tell
    assert abs(np.corrcoef(masked, delta)[0, 1]) < 0.02
    assert abs(np.corrcoef(masked, np.abs(delta))[0, 1]) < 0.02


def test_fixed_point_clips_out_of_bound_coordinates_and_refuses_a_sum_that_could_wrap():
    encoded, clipped = encode_weighted(np.array([0.5, -100.0, 100.0]), samples=2)
    assert clipped == 2
    np.testing.assert_allclose(decode_average(encoded, 1), [1.0, -2 * DELTA_BOUND, 2 * DELTA_BOUND])
    with pytest.raises(ValueError, match="NaN"):
        encode_weighted(np.array([np.nan]), 1)
    with pytest.raises(RingOverflowError):
        decode_average(encoded, 1 << 40)


def test_masked_file_round_trips_and_refuses_malformed_input():
    federation = Round(3)
    update = federation.masked(federation.addresses[0])
    data = encode_masked(update)
    decoded = decode_masked(data, SPEC, ARCH)
    assert decoded.client == update.client and decoded.peers == update.peers
    assert decoded.sample_count == update.sample_count and decoded.round_id == CONTEXT.round_id
    np.testing.assert_array_equal(decoded.values, update.values)
    assert encode_masked(decoded) == data
    with pytest.raises(MaskedFileError, match="not a masked update"):
        decode_masked(b"\x80\x04\x95" + bytes(100), SPEC, ARCH)
    with pytest.raises(MaskedFileError, match="tensor names"):
        decode_masked(data, get_task("cnn").tensor_spec(), "cnn")
    header = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])["__metadata__"]
    float_values = {k: v.view(np.float64) for k, v in unflatten(update.values, SPEC).items()}
    with pytest.raises(MaskedFileError, match="is float64"):
        decode_masked(save(float_values, metadata=header), SPEC, ARCH)


def test_share_bundle_and_reveal_files_round_trip_and_refuse_malformed_input():
    federation = Round(3)
    a = federation.addresses[0]
    bundle = federation.bundles[a]
    assert decode_bundle(encode_bundle(bundle)) == bundle
    (reveal,) = federation.reveals([a], federation.addresses[1:])
    assert decode_reveal(encode_reveal(reveal)) == reveal
    for bad in (b"[]", b"\xff" * 10, encode_bundle(bundle)[:-20], b"{" * 20_000_000):
        with pytest.raises(ShareFileError):
            decode_bundle(bad)
    both = encode_reveal(replace(reveal, key_shares=dict(reveal.self_shares)))
    with pytest.raises(ShareFileError, match="both kinds"):
        decode_reveal(both)


def test_a_box_opens_only_for_its_holder():
    federation = Round(3)
    a, b, c = federation.addresses
    tampered = replace(federation.bundles[a], boxes={**federation.bundles[a].boxes, b: federation.bundles[a].boxes[c]})
    reveal, problems = reveal_shares(federation.keys[b], CONTEXT, b, {a: tampered}, federation.publics, {a: True})
    assert not reveal.self_shares and problems == [f"{a}'s shares for {b} do not decrypt"]


def test_a_participant_with_fewer_than_two_masking_peers_refuses_to_submit():
    federation = Round(3)
    a, _, c = federation.addresses
    federation.masking_keys[c] = bytes(32)  # a low-order or zero key: nobody masks with it
    with pytest.raises(ValueError, match="only 1 other participants"):
        federation.masked(a)
