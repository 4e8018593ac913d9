"""Issue 18 item 4: integrity of secure rounds without seeing updates. The base publishes a clip
bound and a claim cap; a decoded sum outside them aborts the round with the reason, and the next
round starts again from the last finalized model with honest clients; `verify` re-runs the same check
and fails a round an organization finalized in spite of it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from chain import errors
from chain.contract import RoundState
from client.secure import SecureParticipant
from mlprocessor.task_registry import get_task
from organization import secure as organization_secure
from organization.secure_local import run_local_secure_round
from protocol.artifacts import decode_artifact
from protocol.secure.bounds import (
    CLIP_KEY,
    FRACTION_KEY,
    SAMPLES_KEY,
    BoundsError,
    SecureBounds,
    fraction_extra,
    published_fraction,
    round_bounds,
)
from protocol.secure.fixed_point import SCALE
from protocol.secure.keys import round_secrets
from protocol.secure.masked_file import encode_masked
from protocol.secure.participant import mask_delta
from protocol.secure.public_round import read_secure_round
from protocol.verification import verify_round
from storage.model_file import expected_spec
from tests.secure.conftest import CLIENTS, EXAMPLES, SecureFederation, open_and_share, review

pytestmark = pytest.mark.costly  # a minute or so of end-to-end runs: scheduled first (tests/conftest.py)

FRACTION = get_task("2nn").screening.base_norm_fraction


def published_bounds(participant: SecureParticipant, round_id: int) -> SecureBounds:
    info = participant.contract.round(round_id)
    base = decode_artifact(participant.client.store.get(info.base_cid))
    return round_bounds(base.tensors, base.metadata.extra, FRACTION, info.max_samples)


def submit_crafted(participant: SecureParticipant, round_id: int, coordinate: float | None, samples: int,
                   ring_offset: int = 0) -> None:
    """A correctly masked update whose every delta coordinate is `coordinate` (None: the published
    clip bound), claiming `samples`; `ring_offset` is added to every ring value after encoding
    (values no clip would let through)."""
    contract, store = participant.contract, participant.client.store
    info = contract.round(round_id)
    record = read_secure_round(contract, round_id, complete=True)
    assert record is not None
    base = decode_artifact(store.get(info.base_cid))
    context, clip = participant.context(round_id), published_bounds(participant, round_id).clip
    value = clip if coordinate is None else coordinate
    delta = {name: np.full(tensor.shape, value) for name, tensor in base.tensors.items()}
    masked, _ = mask_delta(delta, samples, base.metadata.architecture, expected_spec(base.tensors),
                           str(info.base_cid), round_secrets(participant.keys, context, participant.address),
                           context, participant.address, record.masking_keys, clip)
    masked = replace(masked, values=masked.values + np.uint64(ring_offset))
    contract.submit_masked_update(round_id, store.add_bytes(encode_masked(masked)), samples)


def poisoned_round(federation: SecureFederation, pool, coordinate: float | None, samples: int, ring_offset: int = 0):
    """Participant 0 submits the crafted update, the others honestly; everyone reveals; the organization closes."""
    attacker, honest = federation.participants[0], federation.participants[1:]
    round_id, _ = open_and_share(federation)
    submit_crafted(attacker, round_id, coordinate, samples, ring_offset)
    list(pool.map(lambda participant: participant.submit(round_id), honest))
    review(federation)
    assert [participant.step(round_id).action for participant in federation.participants] == ["revealed"] * CLIENTS
    return round_id, federation.driver.step()


def assert_federation_keeps_training(federation: SecureFederation, pool, aborted: int) -> None:
    """The poisoned round is aborted, not finalized; the next one, honest, starts from the last good model."""
    contract = federation.organization.contract
    assert contract.round(aborted).state is RoundState.ABORTED and contract.round(aborted).result_cid is None
    federation.participants = federation.participants[1:]
    honest = run_local_secure_round(federation.driver, federation.participants, pool)
    assert honest.outcome.state is RoundState.FINALIZED
    assert honest.outcome.base_cid == contract.round(aborted).base_cid  # not the poisoned sum
    assert honest.outcome.accuracy is not None and honest.outcome.accuracy > 0.2  # above chance: not a dead model
    verification = verify_round(contract, federation.store, honest.round_id)
    assert verification.ok, verification.message


def test_a_delta_at_the_clip_bound_claiming_10000_samples_aborts_on_the_norm_check(federation, pool):
    """Row "a client masks a delta at the clip limit and claims 10,000 samples": every coordinate
    of the average stays within the bound, but its norm is far beyond the base's."""
    round_id, outcome = poisoned_round(federation, pool, coordinate=None, samples=10_000)
    assert published_bounds(federation.participants[0], round_id).clip < 16  # from the base, not the ring's limit
    assert outcome.state is RoundState.ABORTED
    assert "the decoded average's norm" in outcome.reason and "x the base's norm" in outcome.reason
    assert any(f"round {round_id}: secure round aborted (the decoded sum fails its check" in line
               for line in federation.log)
    assert_federation_keeps_training(federation, pool, round_id)


def test_ring_values_far_outside_the_clip_range_abort_on_the_coordinate_check(federation, pool):
    """Row "a client submits ring values far outside the clip range": weights of 1e8 never reach a model."""
    round_id, outcome = poisoned_round(federation, pool, coordinate=0.0, samples=EXAMPLES,
                                       ring_offset=int(1e8 * EXAMPLES * SCALE))
    assert outcome.state is RoundState.ABORTED
    assert "coordinates outside the published clip bound" in outcome.reason
    assert_federation_keeps_training(federation, pool, round_id)


@pytest.mark.parametrize(("coordinate", "samples", "ring_offset", "reason"), [
    (None, 10_000, 0, "the decoded average's norm"),
    (0.0, EXAMPLES, int(1e8 * EXAMPLES * SCALE), "coordinates outside the published clip bound"),
], ids=["norm", "coordinates"])
def test_verify_fails_a_round_finalized_in_spite_of_its_sum_check(federation, pool, monkeypatch, coordinate,
                                                                  samples, ring_offset, reason):
    """An organization that skips the sum check (hostile, or a bug) and finalizes the poisoned sum:
    the CIDs match, but `verify` re-runs the check against the bounds the base publishes."""
    monkeypatch.setattr(organization_secure, "sum_problem", lambda *args: None)
    round_id, outcome = poisoned_round(federation, pool, coordinate, samples, ring_offset)
    assert outcome.state is RoundState.FINALIZED
    verification = verify_round(federation.organization.contract, federation.store, round_id)
    assert not verification.ok and verification.recomputed_cid == verification.onchain_cid
    assert "finalized although its decoded sum breaks the bounds its base publishes" in verification.message
    assert reason in verification.message and "the chain records" not in verification.message


def test_a_finalized_round_publishes_the_next_bounds_and_the_chain_enforces_the_cap(federation, pool):
    contract = federation.organization.contract
    first = run_local_secure_round(federation.driver, federation.participants, pool)
    assert first.outcome.state is RoundState.FINALIZED
    base_extra = decode_artifact(federation.store.get(first.outcome.base_cid)).metadata.extra
    assert base_extra[FRACTION_KEY] == FRACTION and CLIP_KEY not in base_extra  # the initial model's: from the task
    verification = verify_round(contract, federation.store, first.round_id)
    assert verification.ok, verification.message
    assert f"within the published clip bound {published_bounds(federation.participants[0], first.round_id).clip:.4g} " \
           f"and {FRACTION:g} x the base's norm" in verification.message
    extra = decode_artifact(federation.store.get(first.outcome.result_cid)).metadata.extra
    first_clip = published_bounds(federation.participants[0], first.round_id).clip
    assert extra[SAMPLES_KEY] == 2 * EXAMPLES and 0 < extra[CLIP_KEY] < first_clip

    round_id, _ = open_and_share(federation)
    assert contract.round(round_id).max_samples == 2 * EXAMPLES
    with pytest.raises(errors.TooManySamples):
        federation.participants[0].contract.submit_masked_update(round_id, federation.store.add_bytes(b"x"), 10_000)


def test_the_published_norm_fraction_is_read_and_checked() -> None:
    """Absent (a history from before it was published): no norm check; malformed: refused in one line."""
    assert published_fraction({}) is None and published_fraction(fraction_extra(FRACTION)) == FRACTION
    assert fraction_extra(None) == {}
    for bad in (-1.0, 0, float("nan"), "0.5"):
        with pytest.raises(BoundsError, match=r"norm fraction .* is not a positive number"):
            published_fraction({FRACTION_KEY: bad})
