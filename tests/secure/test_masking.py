"""The masking library alone: masks cancel, the sum is FedAvg, a masked update hides its delta, bad seeds are caught."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from safetensors.numpy import save

from mlprocessor.aggregation import ClientUpdate
from mlprocessor.aggregation.fedavg import FedAvg
from mlprocessor.task_registry import get_task
from protocol.secure.fixed_point import (
    DELTA_BOUND,
    PRECISION,
    SCALE,
    RingOverflowError,
    decode_average,
    encode_weighted,
)
from protocol.secure.keys import KeyPair, RoundContext
from protocol.secure.masked_file import MaskedFileError, decode_masked, encode_masked, flatten_state, unflatten
from protocol.secure.masks import apply_masks
from protocol.secure.participant import mask_delta, pair_seeds, reveal_for
from protocol.secure.reveal import RevealFileError, decode_reveal, encode_reveal
from protocol.secure.unmask import UnmaskingError, unmask_average

ARCH = "2nn"
SPEC = get_task(ARCH).tensor_spec()
BASE_CID = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
CONTEXT = RoundContext(chain_id=1337, contract="0x" + "ab" * 20, round_id=3)


def random_delta(rng: np.random.Generator, scale: float = 0.01) -> dict[str, np.ndarray]:
    return {name: (rng.standard_normal(shape) * scale).astype(np.float32)
            for name, (shape, _) in SPEC.items()}


class Round:
    """Participants with keys, deltas and sample counts, masking for one round's fixed participant set."""

    def __init__(self, count: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.addresses = [f"0x{rng.integers(1 << 62):040x}" for _ in range(count)]
        self.keys = {a: KeyPair.generate() for a in self.addresses}
        self.publics = {a: k.public_bytes() for a, k in self.keys.items()}
        self.deltas = {a: random_delta(rng) for a in self.addresses}
        self.samples = {a: int(rng.integers(50, 600)) for a in self.addresses}

    def masked(self, address: str):
        update, clipped = mask_delta(self.deltas[address], self.samples[address], ARCH, SPEC, BASE_CID,
                                     self.keys[address], CONTEXT, address, self.publics)
        assert clipped == 0
        return update

    def reveals(self, survivors: list[str], dropped: list[str]):
        return {s: reveal_for(self.keys[s], CONTEXT, s, {d: self.publics[d] for d in dropped}) for s in survivors}

    def fedavg(self, survivors: list[str]) -> np.ndarray:
        base = {name: np.zeros(shape, np.float32) for name, (shape, _) in SPEC.items()}
        updates = [ClientUpdate(self.deltas[a], self.samples[a]) for a in survivors]
        # secure rounds weight by the claimed counts (capped on-chain by maxSamples), not by the median cap
        return flatten_state(FedAvg(weight_cap=None).combine(updates), SPEC) + flatten_state(base, SPEC)


def test_pair_seeds_agree_between_peers_and_differ_between_rounds_and_pairs():
    federation = Round(3)
    a, b, c = federation.addresses
    seeds_a = pair_seeds(federation.keys[a], CONTEXT, a, federation.publics)
    seeds_b = pair_seeds(federation.keys[b], CONTEXT, b, federation.publics)
    assert seeds_a[b] == seeds_b[a]
    assert seeds_a[b] != seeds_a[c]
    later = replace(CONTEXT, round_id=4)
    assert pair_seeds(federation.keys[a], later, a, federation.publics)[b] != seeds_a[b]


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
    updates = [federation.masked(a) for a in federation.addresses]
    average = unmask_average(updates, federation.publics, {})
    assert np.max(np.abs(average - federation.fedavg(federation.addresses))) <= PRECISION


@pytest.mark.parametrize("dropped_count", [1, 2])
def test_dropped_participants_masks_are_removed_with_the_survivors_reveals(dropped_count):
    federation = Round(5, seed=dropped_count)
    survivors, dropped = federation.addresses[dropped_count:], federation.addresses[:dropped_count]
    updates = [federation.masked(a) for a in survivors]
    with pytest.raises(UnmaskingError, match="revealed no seeds"):
        unmask_average(updates, federation.publics, {})
    average = unmask_average(updates, federation.publics, federation.reveals(survivors, dropped))
    assert np.max(np.abs(average - federation.fedavg(survivors))) <= PRECISION


def test_a_wrong_revealed_seed_is_detected_and_attributed():
    federation = Round(4)
    survivors, dropped = federation.addresses[1:], federation.addresses[:1]
    updates = [federation.masked(a) for a in survivors]
    reveals = federation.reveals(survivors, dropped)
    liar = survivors[1]
    reveals[liar] = replace(reveals[liar], seeds={dropped[0]: bytes(32)})
    with pytest.raises(UnmaskingError, match=f"{liar} revealed a wrong seed for its pair with {dropped[0]}"):
        unmask_average(updates, federation.publics, reveals)


def test_inconsistent_commitments_between_survivors_are_detected():
    federation = Round(3)
    updates = [federation.masked(a) for a in federation.addresses]
    cheat = updates[0]
    peer = federation.addresses[1]
    updates[0] = replace(cheat, commitments={**cheat.commitments, peer: bytes(32)})
    with pytest.raises(UnmaskingError, match="committed to different seeds"):
        unmask_average(updates, federation.publics, {})


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
    assert decoded.client == update.client and decoded.commitments == update.commitments
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


def test_reveal_file_round_trips_and_refuses_malformed_input():
    federation = Round(3)
    a, _, c = federation.addresses
    reveal = reveal_for(federation.keys[a], CONTEXT, a, {c: federation.publics[c]})
    assert decode_reveal(encode_reveal(reveal)) == reveal
    for bad in (b"[]", b'{"format": "fedchain-seed-reveal/1", "round": 1, "revealer": "0x1", "seeds": {}}',
                encode_reveal(reveal).replace(reveal.seeds[c].hex().encode(), b"00"), b"\xff" * 10):
        with pytest.raises(RevealFileError):
            decode_reveal(bad)


def test_a_participant_without_a_usable_key_shares_no_mask_and_the_sum_still_unmasks():
    federation = Round(4)
    keyless, dropped = federation.addresses[0], federation.addresses[1]
    federation.publics[keyless] = bytes(32)
    survivors = [*federation.addresses[2:], keyless]
    updates = [federation.masked(a) for a in survivors]
    assert not updates[-1].commitments and keyless not in updates[0].commitments
    average = unmask_average(updates, federation.publics, federation.reveals(federation.addresses[2:], [dropped]))
    assert np.max(np.abs(average - federation.fedavg(survivors))) <= PRECISION
