"""Secure rounds end to end on Anvil and the embedded store: dropouts at each phase,
the result equals plain FedAvg, wrong seeds and replayed updates are caught, and `verify` passes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest
from web3.logs import DISCARD

from chain import errors
from chain.contract import ParticipantStatus, RoundState, SecureDeadlines
from mlprocessor.task_registry import get_task
from organization.secure import refuse_unmaskable_settings
from organization.secure_local import advance_past, run_local_secure_round
from organization.service import OrganizationSettings
from protocol.plan import StrategySpec
from protocol.secure.masked_file import decode_masked, encode_masked
from protocol.secure.public_round import read_secure_round
from protocol.secure.shares import decode_reveal, encode_reveal
from protocol.verification import verify_round
from tests.secure.conftest import CLIENTS, SecureFederation, build, open_and_share, review

pytestmark = pytest.mark.costly  # a minute or so of end-to-end runs: scheduled first (tests/conftest.py)

SPEC_2NN = get_task("2nn").tensor_spec()


def test_a_secure_round_equals_plain_fedavg_and_verifies(tmp_path, federation, pool):
    secure = run_local_secure_round(federation.driver, federation.participants, pool)
    assert secure.outcome.state is RoundState.FINALIZED
    assert [step.action for step in secure.reveals] == ["revealed"] * CLIENTS  # the self-masks need them
    contract = federation.organization.contract
    assert verify_round(contract, federation.store, secure.round_id).ok

    plain = build(tmp_path / "plain", federation.chain)  # the same accounts, data and seeds, aggregated in the clear
    round_id, _ = plain.organization.open_round()
    for participant in plain.participants:
        participant.client.participate(round_id)
    outcome = plain.organization.close_round(round_id)
    expected = plain.organization.fetch_model(outcome.result_cid).tensors
    got = federation.organization.fetch_model(secure.outcome.result_cid).tensors
    assert max(float(np.max(np.abs(got[k] - expected[k]))) for k in expected) < 1e-6
    assert abs(secure.outcome.accuracy - outcome.accuracy) < 0.001

    update = federation.store.get(secure.submissions[0].participation.entry.update_cid)
    masked = decode_masked(update, SPEC_2NN, "mnist-2nn").values.view(np.int64).astype(np.float64)
    base = federation.organization.fetch_model(secure.outcome.base_cid).tensors
    delta = np.concatenate([(expected[k].astype(np.float64) - base[k]).reshape(-1) for k in base])
    assert abs(np.corrcoef(masked, delta)[0, 1]) < 0.02  # the published file says nothing about the update


def test_a_client_that_never_joins_is_simply_not_a_participant(federation, pool):
    federation.participants = federation.participants[:4]
    secure = run_local_secure_round(federation.driver, federation.participants, pool)
    assert secure.outcome.state is RoundState.FINALIZED
    assert verify_round(federation.organization.contract, federation.store, secure.round_id).ok


def test_dropouts_after_sharing_are_unmasked_with_the_survivors_key_shares(federation, pool):
    for participant in federation.participants[:2]:
        participant.drop_out = True
    secure = run_local_secure_round(federation.driver, federation.participants, pool)
    assert [step.action for step in secure.reveals] == ["revealed"] * 3
    assert secure.outcome.state is RoundState.FINALIZED and len(secure.outcome.accepted) == 3
    verification = verify_round(federation.organization.contract, federation.store, secure.round_id)
    assert verification.ok, verification.message
    assert "2 dropped, 3 share reveals, threshold 3" in verification.message


def reveal_round(federation: SecureFederation, pool: ThreadPoolExecutor, revealers: int,
                 dropped: int = 0) -> tuple[int, SecureDeadlines]:
    """A round where the first `dropped` participants never submit and only `revealers` survivors reveal."""
    for participant in federation.participants[:dropped]:
        participant.drop_out = True
    round_id, deadlines = open_and_share(federation)
    survivors = federation.participants[dropped:]
    list(pool.map(lambda p: p.submit(round_id), survivors))
    advance_past(federation.organization.contract, deadlines.submit)
    review(federation)
    for participant in survivors[:revealers]:
        assert participant.step(round_id).action == "revealed"
    return round_id, deadlines


def test_n_minus_t_survivors_that_never_reveal_do_not_stop_the_round(federation, pool):
    driver, contract = federation.driver, federation.organization.contract
    round_id, deadlines = reveal_round(federation, pool, revealers=3)  # t = 3 of 5: two stay silent
    assert driver.step() is None  # they may still reveal
    advance_past(contract, deadlines.reveal)
    outcome = driver.step()
    assert outcome.state is RoundState.FINALIZED and len(outcome.accepted) == 5
    verification = verify_round(contract, federation.store, round_id)
    assert verification.ok, verification.message


def test_fewer_than_t_reveals_abort_the_round_with_the_reason_recorded(federation, pool):
    driver, contract = federation.driver, federation.organization.contract
    _, deadlines = reveal_round(federation, pool, revealers=2, dropped=1)
    advance_past(contract, deadlines.reveal)
    outcome = driver.step()
    assert outcome.state is RoundState.ABORTED
    (event,) = contract.web3_contract.events.SecureRoundAborted().process_receipt(
        contract.chain.web3.eth.get_transaction_receipt(outcome.tx_hash), errors=DISCARD)
    assert event["args"]["reason"] == 3 and event["args"]["revealed"] == 2


def test_too_few_joiners_abort_the_round(federation):
    driver, contract = federation.driver, federation.organization.contract
    round_id, _ = driver.secure_rounds().open_round()
    for participant in federation.participants[:2]:
        participant.join(round_id)
    advance_past(contract, contract.secure_round(round_id).deadlines.join)
    assert driver.step().state is RoundState.ABORTED
    assert any("2 joined, fewer than 3" in line for line in federation.log)


def test_a_wrong_revealed_share_is_set_aside_naming_the_liar_and_the_round_still_verifies(federation, pool):
    contract, store = federation.organization.contract, federation.store
    round_id, _ = reveal_round(federation, pool, revealers=3, dropped=1)
    liar = federation.participants[4]
    dropped = federation.participants[0].address.lower()
    honest = liar.reveal_contents(round_id)
    wrong = replace(honest, key_shares={dropped: bytes(65) + b"\x01"})
    liar.contract.reveal_shares(round_id, store.add_bytes(encode_reveal(wrong)))
    outcome = federation.driver.step()
    assert outcome.state is RoundState.FINALIZED
    assert any(f"set aside: {liar.address.lower()} revealed a wrong key share for {dropped}" in line
               for line in federation.log)
    assert verify_round(contract, store, round_id).ok


def test_a_result_that_is_not_the_unmasked_sum_fails_verification(federation, pool):
    contract = federation.organization.contract
    round_id, _ = reveal_round(federation, pool, revealers=4, dropped=1)
    contract.finalize_secure_round(round_id, contract.round(round_id).base_cid)
    verification = verify_round(contract, federation.store, round_id)
    assert not verification.ok and verification.message.startswith(f"secure round {round_id}")


def test_a_client_whose_submission_came_too_late_gets_key_shares_revealed_never_self_mask_shares(federation, pool):
    """Row 1 of issue 18: its masked file is on IPFS, its transaction too late (the organization mined
    past the deadline). The survivors reveal its key shares only: its file stays under its self-mask
    (tests/secure/test_masking.py checks what that leaves of the update)."""
    contract, store = federation.organization.contract, federation.store
    late = federation.participants[0]
    late.drop_out = True
    round_id, _ = reveal_round(federation, pool, revealers=4, dropped=1)
    outcome = federation.driver.step()
    assert outcome.state is RoundState.FINALIZED
    record = read_secure_round(contract, round_id)
    reveals = [decode_reveal(store.get(cid)) for _, cid in record.reveals]
    assert all(late.address.lower() in r.key_shares and late.address.lower() not in r.self_shares for r in reveals)
    survivors = {p.address.lower() for p in federation.participants[1:]}
    assert all(set(r.self_shares) == survivors and set(r.key_shares) == {late.address.lower()} for r in reveals)
    assert verify_round(contract, store, round_id).ok


def test_replayed_masked_updates_are_refused_on_chain_or_excluded_as_malformed_in_the_review(federation, pool):
    driver, store, contract = federation.driver, federation.store, federation.organization.contract
    first = run_local_secure_round(driver, federation.participants, pool)
    old_cid = first.submissions[0].participation.entry.update_cid
    replayer = federation.participants[0]

    round_id, _ = open_and_share(federation)
    with pytest.raises(errors.UpdateReplayed):
        replayer.contract.submit_masked_update(round_id, old_cid, 100)
    # the same masked values under a new CID still name round 1: the organization will not sum them
    old = decode_masked(store.get(old_cid), SPEC_2NN, "mnist-2nn")
    disguised = encode_masked(replace(old, values=old.values + np.uint64(1)))
    replayer.contract.submit_masked_update(round_id, store.add_bytes(disguised), old.sample_count)
    for participant in federation.participants[1:]:
        participant.submit(round_id)
    review(federation)
    assert contract.participant_status(round_id, replayer.address) is ParticipantStatus.EXCLUDED
    assert any(f"excluded masked update 0 ({replayer.address}) as malformed" in line
               and f"it is for round {first.round_id}, not {round_id}" in line for line in federation.log)
    assert replayer.step(round_id).action == "excluded"
    assert [p.step(round_id).action for p in federation.participants[1:]] == ["revealed"] * (CLIENTS - 1)
    outcome = driver.step()
    assert outcome.state is RoundState.FINALIZED and outcome.accepted == [False] + [True] * (CLIENTS - 1)
    verification = verify_round(contract, store, round_id)
    assert verification.ok, verification.message
    assert f"excluded in the review: {replayer.address.lower()} (malformed)" in verification.message


def test_a_late_masked_update_after_the_submission_deadline_is_refused(federation, pool):
    contract = federation.organization.contract
    federation.participants[0].drop_out = True
    round_id, deadlines = open_and_share(federation)
    list(pool.map(lambda p: p.submit(round_id), federation.participants[1:]))
    advance_past(contract, deadlines.submit)
    late = federation.participants[0]
    late.drop_out = False
    assert late.step(round_id).action == "dropped"
    with pytest.raises(errors.DeadlinePassed):
        late.contract.submit_masked_update(round_id, federation.store.add_bytes(b"late update"), 10)


def test_robust_rules_and_validation_are_refused_with_secure_aggregation():
    with pytest.raises(ValueError, match="median needs to see individual updates"):
        refuse_unmaskable_settings(OrganizationSettings(strategy=StrategySpec("median")), validation_asked=False)
    with pytest.raises(ValueError, match="per-update validation"):
        refuse_unmaskable_settings(OrganizationSettings(), validation_asked=True)
    refuse_unmaskable_settings(OrganizationSettings(strategy=StrategySpec("fedprox", {"mu": 0.01})), False)
