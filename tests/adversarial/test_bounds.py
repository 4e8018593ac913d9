"""Issue 11's table, the rows about what one client can make a round do: each ends with the
honest outcome (the round finalizes with the honest updates, the reason names the problem)."""

from __future__ import annotations

import numpy as np
import pytest

from chain.contract import RoundState
from chain.errors import SubmissionsClosed, TooManySamples
from mlprocessor.models import initial_state, parameter_count
from mlprocessor.task_registry import get_task
from protocol.artifacts import (
    FEDCURV_U,
    FEDCURV_V,
    decode_artifact,
    encode_artifact,
    max_update_bytes,
    model_metadata,
)
from protocol.outages import RoundSettingsError
from protocol.plan import StrategySpec, TrainingPlan
from protocol.rejections import rejections_of_result
from protocol.verification import verify_round
from tests.adversarial.conftest import hostile_federation

FEDCURV = TrainingPlan(epochs=1, batch_size=10, lr=0.1, fedcurv_lambda=0.5)


def test_overflowing_sample_count_is_refused_and_the_round_goes_on(tmp_path) -> None:
    hostile = hostile_federation(tmp_path, "sign-flip")
    round_id, _ = hostile.organization.open_round()
    attacker = hostile.attackers[0].client
    cid = hostile.store.add_bytes(b"anything")
    with pytest.raises(TooManySamples, match="at most 10000"):
        attacker.contract.submit_update(round_id, cid, 2**64 - 1)
    for client in hostile.honest:
        assert client.participate(round_id).entry is not None  # later submissions still go through
    outcome = hostile.organization.close_round(round_id)
    assert outcome.state is RoundState.FINALIZED and outcome.accepted == [True, True, True]


def test_fisher_sections_are_ignored_when_fedcurv_is_off(tmp_path) -> None:
    hostile = hostile_federation(tmp_path, "fisher-poison")
    _, outcome = hostile.round()
    assert outcome.accepted == [True, True, True, True]  # its delta is honest; its Fisher plays no part
    assert decode_artifact(hostile.store.get(outcome.result_cid)).sections == {}


def test_client_refuses_a_base_with_unusable_fedcurv_sections(tmp_path) -> None:
    hostile = hostile_federation(tmp_path, plan=FEDCURV)
    state = initial_state("2nn")
    sections = {FEDCURV_U: {k: np.full_like(v, -1.0) for k, v in state.items()},
                FEDCURV_V: {k: np.zeros_like(v) for k, v in state.items()}}
    forged = encode_artifact(state, model_metadata("2nn", 0, 0, None, FEDCURV.to_extra()), sections)
    contract = hostile.organization.contract  # an organization that publishes a broken base
    round_id, _ = contract.open_round(hostile.store.add_bytes(forged), contract.block_number() + 50, 1, 1000)
    participation = hostile.honest[0].participate(round_id)
    assert participation.entry is None
    assert "refused base" in participation.skipped and "FedCurv section u" in participation.skipped
    assert "negative" in participation.skipped


def test_resubmitted_cid_counts_once_and_the_reasons_are_published(tmp_path) -> None:
    hostile = hostile_federation(tmp_path, "free-ride")
    round_id, outcome = hostile.round()
    assert outcome.accepted == [True, True, True, False]
    assert outcome.rejections == {3: "duplicate of update 0"}
    assert rejections_of_result(hostile.store, outcome.result_cid) == {3: "duplicate of update 0"}  # IPFS alone
    assert verify_round(hostile.organization.contract, hostile.store, round_id).ok


def test_large_norm_majority_is_rejected_by_a_bound_it_cannot_move(tmp_path) -> None:
    hostile = hostile_federation(tmp_path, "scale", attackers=3, honest=2, quorum=2)
    _, outcome = hostile.round(attackers_first=True)
    assert outcome.state is RoundState.FINALIZED
    assert outcome.accepted == [False, False, False, True, True]
    assert all("base model's norm" in outcome.rejections[i] for i in range(3))


def test_submission_after_the_freeze_is_refused_and_finalize_covers_the_frozen_set(tmp_path) -> None:
    hostile = hostile_federation(tmp_path, quorum=2)
    organization = hostile.organization
    round_id, _ = organization.open_round()
    for client in hostile.honest[:2]:
        client.participate(round_id)
    contract = organization.contract
    contract.close_submissions(round_id, contract.recorded_digest(round_id))  # what close_round does first
    late = hostile.honest[2].participate(round_id)
    assert late.entry is None and "froze its submission set" in late.skipped
    with pytest.raises(SubmissionsClosed):
        hostile.honest[2].contract.submit_update(round_id, hostile.store.add_bytes(b"late"), 10)
    outcome = organization.close_round(round_id)
    assert outcome.state is RoundState.FINALIZED and outcome.accepted == [True, True]


def test_strategy_that_cannot_work_is_refused_at_open(tmp_path) -> None:
    hostile = hostile_federation(tmp_path, quorum=3, strategy=StrategySpec("krum", {"f": 1}))
    with pytest.raises(RoundSettingsError, match="needs at least 4"):
        hostile.organization.open_round()
    assert hostile.organization.contract.round_count() == 0


def test_too_small_accepted_set_aborts_with_a_reason_and_rounds_go_on(tmp_path) -> None:
    hostile = hostile_federation(tmp_path, "free-ride", quorum=4, strategy=StrategySpec("krum", {"f": 1}))
    _, outcome = hostile.round()
    assert outcome.state is RoundState.ABORTED
    assert outcome.reason == "3 of 4 updates passed screening; krum needs at least 4"
    next_id, _ = hostile.organization.open_round()
    assert next_id == 2


def test_verify_fails_a_malformed_result_with_a_reason_and_checks_the_others(tmp_path) -> None:
    hostile = hostile_federation(tmp_path)
    good, _ = hostile.round()
    organization = hostile.organization
    bad, _ = organization.open_round()
    for client in hostile.honest:
        client.participate(bad)
    base_cid = organization.contract.round(bad).base_cid
    forged = encode_artifact(initial_state("2nn"), model_metadata(
        "2nn", bad, 900, base_cid, {"strategy": "fedavg", "strategy.bogus": 1.0}))
    organization.contract.close_submissions(bad, organization.contract.recorded_digest(bad))
    organization.contract.finalize_round(bad, hostile.store.add_bytes(forged), [True, True, True],
                                         organization.contract.recorded_digest(bad))
    results = {r: verify_round(organization.contract, hostile.store, r) for r in (good, bad)}
    assert results[good].ok
    assert not results[bad].ok and "does not take parameters ['bogus']" in results[bad].message


def test_oversized_update_is_rejected_without_downloading_it(tmp_path) -> None:
    hostile = hostile_federation(tmp_path, "sign-flip")
    round_id, _ = hostile.organization.open_round()
    for client in hostile.honest:
        client.participate(round_id)
    size = max_update_bytes(get_task("2nn").tensor_spec()) + 1
    assert size < 3 * 4 * parameter_count("2nn") + 128 * 1024
    cid = hostile.store.add_bytes(b"\0" * size)
    hostile.attackers[0].client.contract.submit_update(round_id, cid, 300)
    outcome = hostile.organization.close_round(round_id)
    assert outcome.accepted == [True, True, True, False]
    assert f"{size} bytes, over the limit" in outcome.rejections[3]
