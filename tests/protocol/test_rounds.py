"""Rounds end to end in one process: finalize, verify, reject bad updates, dropouts, late comers."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from aleph_cid import compute_cid

from chain.contract import RoundState
from chain.history import HistoryReader
from client.service import ClientSettings
from mlprocessor.models import initial_state
from protocol.artifacts import encode_artifact, model_metadata, update_metadata
from protocol.engine import Act, organization_decision, read_view
from protocol.plan import TrainingPlan
from protocol.verification import verify_round
from storage.cid import Cid
from tests.protocol.conftest import Federation, build_federation


def test_round_finalizes_with_every_update_and_verifies(federation: Federation) -> None:
    organization, clients = federation.organization, federation.clients
    round_id, _ = organization.open_round()
    entries = [client.participate(round_id).entry for client in clients]
    assert all(entries)
    outcome = organization.close_round(round_id)
    assert outcome.state is RoundState.FINALIZED and outcome.accepted == [True, True, True]
    assert outcome.accuracy is not None and outcome.accuracy > 0.5
    record = HistoryReader(organization.contract).round(round_id)
    assert [str(s.cid) for s in record.submissions] == [e.update_cid for e in entries]
    assert record.result_cid == outcome.result_cid
    verification = verify_round(organization.contract, federation.store, round_id)
    assert verification.ok, verification.message
    assert organization.next_base_cid() == outcome.result_cid  # the next round builds on it


def test_second_round_improves_and_resumes_from_chain(federation: Federation) -> None:
    organization, clients = federation.organization, federation.clients
    accuracies = []
    for _ in range(2):
        round_id, _ = organization.open_round()
        for client in clients:
            client.participate(round_id)
        accuracies.append(organization.close_round(round_id).accuracy)
    assert accuracies[1] > accuracies[0]
    assert [e.round for e in clients[0].state.history()] == [1, 2]


def _pickle(round_id, base_cid, samples):
    return pickle.dumps({"weights": [1, 2, 3]}), samples


def _loud(round_id, base_cid, samples):
    delta = {k: np.full_like(v, 1000.0) for k, v in initial_state("2nn").items()}
    return encode_artifact(delta, update_metadata("2nn", round_id, samples, base_cid)), samples


def _wrong_base_and_samples(round_id, base_cid, samples):
    delta = {k: np.zeros_like(v) for k, v in initial_state("2nn").items()}
    other_base = Cid.parse(compute_cid(b"some other model"))
    return encode_artifact(delta, update_metadata("2nn", round_id, 10, other_base)), 999


@pytest.mark.parametrize("forge, reasons", [
    (_pickle, ["pickle"]),
    (_loud, ["norm", "base model"]),
    (_wrong_base_and_samples, ["applies to base", "claims 10 samples, the chain records 999"]),
], ids=["pickle", "norm-outlier", "wrong-base-and-samples"])
def test_bad_update_is_rejected_with_its_reason(federation: Federation, forge, reasons) -> None:
    organization, clients = federation.organization, federation.clients
    round_id, _ = organization.open_round()
    for client in clients[:2]:
        client.participate(round_id)
    base_cid = organization.contract.round(round_id).base_cid
    data, samples = forge(round_id, base_cid, len(clients[2].data))
    clients[2].contract.submit_update(round_id, federation.store.add_bytes(data), samples)
    outcome = organization.close_round(round_id)
    assert outcome.state is RoundState.FINALIZED
    assert outcome.accepted == [True, True, False]
    assert all(reason in outcome.rejections[2] for reason in reasons), outcome.rejections
    assert verify_round(organization.contract, federation.store, round_id).ok


def test_dropout_finalizes_at_the_deadline_with_who_submitted(tmp_path) -> None:
    federation = build_federation(tmp_path, quorum=2, target=3, deadline_blocks=10)
    organization, clients = federation.organization, federation.clients
    round_id, _ = organization.open_round()
    for client in clients[:2]:
        client.participate(round_id)
    assert organization_decision(read_view(organization.contract), 3).act is Act.SCREEN  # waiting for the third
    federation.chain.mine_blocks(10)
    assert organization_decision(read_view(organization.contract), 3).act is Act.CLOSE
    outcome = organization.close_round(round_id)
    assert outcome.state is RoundState.FINALIZED and outcome.accepted == [True, True]
    late = clients[2].participate(round_id)  # the late comer is told, not crashed
    assert late.entry is None and "already finalized" in late.skipped
    assert clients[2].pending_round() is None


def test_round_missing_its_quorum_is_aborted(tmp_path) -> None:
    federation = build_federation(tmp_path, quorum=2, target=2, deadline_blocks=5)
    organization = federation.organization
    round_id, _ = organization.open_round()
    federation.clients[0].participate(round_id)
    federation.chain.mine_blocks(5)
    outcome = organization.close_round(round_id)
    assert outcome.state is RoundState.ABORTED
    next_id, _ = organization.open_round()
    assert organization.contract.round(next_id).base_cid == outcome.base_cid  # aborted rounds change nothing


def test_verify_fails_for_a_result_that_is_not_the_aggregate(federation: Federation) -> None:
    organization, clients = federation.organization, federation.clients
    round_id, _ = organization.open_round()
    for client in clients:
        client.participate(round_id)
    forged = encode_artifact(initial_state("2nn", seed=7),
                             model_metadata("2nn", round_id, 900, organization.contract.round(round_id).base_cid,
                                            {"strategy": "fedavg"}))
    forged_cid = federation.store.add_bytes(forged)
    organization.contract.finalize_round(round_id, forged_cid, [True, True, True],
                                         organization.contract.recorded_digest(round_id))
    verification = verify_round(organization.contract, federation.store, round_id)
    assert not verification.ok
    assert f"round {round_id}" in verification.message and str(forged_cid) in verification.message
    assert verification.recomputed_cid and verification.recomputed_cid in verification.message


@pytest.mark.parametrize("settings, plan", [
    (ClientSettings(ewc_lambda=50.0, fisher_samples=100), TrainingPlan(epochs=1, batch_size=20, lr=0.1)),
    (ClientSettings(fisher_samples=100), TrainingPlan(epochs=1, batch_size=20, lr=0.1, fedcurv_lambda=0.5)),
], ids=["ewc", "fedcurv"])
def test_stateful_regularized_clients_over_two_rounds(tmp_path, settings, plan) -> None:
    federation = build_federation(tmp_path, client_settings=settings, plan=plan)
    organization, clients = federation.organization, federation.clients
    for _ in range(2):
        round_id, _ = organization.open_round()
        for client in clients:
            assert client.participate(round_id).entry is not None
        assert organization.close_round(round_id).state is RoundState.FINALIZED
        assert verify_round(organization.contract, federation.store, round_id).ok
    if settings.ewc_lambda:
        assert clients[0].state.ewc_memory().pending is not None  # the pending Fisher persisted on its disk
    else:
        result = organization.fetch_model(organization.next_base_cid())
        assert set(result.sections) == {"fedcurv_u", "fedcurv_v"}
