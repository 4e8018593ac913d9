"""Every contract function and every way it refuses, on the in-process EVM."""

from __future__ import annotations

import pytest

from chain import errors
from chain.accounts import dev_account
from chain.contract import EMPTY_SUBMISSIONS_DIGEST, ClientStatus, FederatedLearningContract, RoundState
from chain.history import HistoryReader
from tests.chain.conftest import fresh_cid, open_round


def test_deployer_is_owner_and_registration_starts_open(organization: FederatedLearningContract) -> None:
    assert organization.owner() == dev_account(0).address
    assert organization.registration_open() is True
    assert organization.round_count() == 0


def test_register_gives_sequential_ids(organization, clients) -> None:
    infos = [organization.client_info(client.account.address) for client in clients]
    assert [info.client_id for info in infos] == [1, 2, 3]
    assert all(info.status is ClientStatus.REGISTERED for info in infos)
    assert organization.client_count() == 3


def test_register_twice_is_refused(clients) -> None:
    with pytest.raises(errors.AlreadyRegistered, match="already registered"):
        clients[0].register()


def test_allow_list_mode(organization) -> None:
    organization.set_registration_open(False)
    outsider = organization.with_account(dev_account(4))
    with pytest.raises(errors.RegistrationClosed, match=dev_account(4).address):
        outsider.register()
    organization.allow_client(dev_account(4).address)
    assert organization.client_info(dev_account(4).address).status is ClientStatus.ALLOWED
    outsider.register()
    assert organization.client_info(dev_account(4).address).status is ClientStatus.REGISTERED
    with pytest.raises(errors.AlreadyRegistered):
        organization.allow_client(dev_account(4).address)


def test_removed_client_cannot_submit_or_reregister_until_allowed(organization, clients) -> None:
    address = clients[0].account.address
    organization.remove_client(address)
    round_id = open_round(organization)
    with pytest.raises(errors.NotRegistered):
        clients[0].submit_update(round_id, fresh_cid(), 10)
    with pytest.raises(errors.ClientWasRemoved):
        clients[0].register()
    with pytest.raises(errors.UnknownClient):
        organization.remove_client(address)
    organization.allow_client(address)
    clients[0].register()
    assert organization.client_info(address).client_id == 1  # the same id as before
    clients[0].submit_update(round_id, fresh_cid(), 10)


def test_remove_unknown_client_is_refused(organization) -> None:
    with pytest.raises(errors.UnknownClient):
        organization.remove_client(dev_account(7).address)


@pytest.mark.parametrize("call", [
    lambda c: c.set_registration_open(False),
    lambda c: c.allow_client(dev_account(5).address),
    lambda c: c.remove_client(dev_account(1).address),
    lambda c: c.open_round(fresh_cid(), c.block_number() + 10, 1, 100),
    lambda c: c.close_submissions(1, c.recorded_digest(1)),
    lambda c: c.finalize_round(1, fresh_cid(), [], c.recorded_digest(1)),
    lambda c: c.abort_round(1),
])
def test_owner_only_functions_refuse_others(organization, clients, call) -> None:
    with pytest.raises(errors.OwnableUnauthorizedAccount, match="not the organization"):
        call(clients[0])


def test_open_round_records_everything(organization) -> None:
    base = fresh_cid()
    deadline = organization.block_number() + 20
    round_id, result = organization.open_round(base, deadline, 2, 500)
    assert round_id == 1 and result.gas_used > 0
    info = organization.round(1)
    assert (info.state, info.base_cid, info.deadline, info.quorum, info.submissions) == (
        RoundState.OPEN, base, deadline, 2, 0)
    assert (info.max_samples, info.submissions_closed, info.open_block) == (500, False, result.block_number)
    assert info.result_cid is None


def test_open_round_validation(organization) -> None:
    with pytest.raises(errors.InvalidDeadline):
        organization.open_round(fresh_cid(), organization.block_number(), 1, 100)
    with pytest.raises(errors.InvalidDeadline):
        organization.open_round(fresh_cid(), 2**40, 1, 100)
    with pytest.raises(errors.InvalidQuorum):
        organization.open_round(fresh_cid(), organization.block_number() + 5, 0, 100)
    with pytest.raises(errors.InvalidMaxSamples):
        organization._sender.send(organization._functions.openRound(fresh_cid().digest, organization.block_number() + 5,
                                                                     1, 0, 0))
    with pytest.raises(errors.InvalidCid):
        organization._sender.send(organization._functions.openRound(bytes(32), organization.block_number() + 5, 1,
                                                                     100, 0))
    open_round(organization)
    with pytest.raises(errors.RoundStillOpen, match="round 1 is still open"):
        open_round(organization)


def test_submissions_are_recorded_in_order(organization, clients) -> None:
    round_id = open_round(organization)
    cids = [fresh_cid() for _ in clients]
    for client, cid, samples in zip(clients, cids, (10, 20, 30), strict=True):
        client.submit_update(round_id, cid, samples)
    record = HistoryReader(organization).round(round_id)
    assert record is not None and [s.cid for s in record.submissions] == cids  # the events keep the CIDs
    info = organization.round(round_id)
    assert info.submissions_digest == record.digest() != EMPTY_SUBMISSIONS_DIGEST  # and the header their digest
    assert (info.submissions, info.total_samples) == (3, 60)
    assert organization.client_info(clients[0].account.address).last_round == round_id


def test_submission_refusals(organization, clients, chain) -> None:
    with pytest.raises(errors.RoundNotOpen, match="never opened"):
        clients[0].submit_update(1, fresh_cid(), 10)
    round_id = open_round(organization, blocks=3)
    outsider = organization.with_account(dev_account(6))
    with pytest.raises(errors.NotRegistered):
        outsider.submit_update(round_id, fresh_cid(), 10)
    with pytest.raises(errors.InvalidSampleCount):
        clients[0].submit_update(round_id, fresh_cid(), 0)
    with pytest.raises(errors.InvalidCid):
        clients[0]._sender.send(clients[0]._functions.submitUpdate(round_id, bytes(32), 5))
    clients[0].submit_update(round_id, fresh_cid(), 10)
    with pytest.raises(errors.AlreadySubmitted):
        clients[0].submit_update(round_id, fresh_cid(), 10)
    chain.mine_blocks(5)
    with pytest.raises(errors.DeadlinePassed):
        clients[1].submit_update(round_id, fresh_cid(), 10)


def test_finalize_round(organization, clients) -> None:
    round_id = open_round(organization, quorum=2)
    for client in clients:
        client.submit_update(round_id, fresh_cid(), 10)
    result = fresh_cid()
    organization.finalize_round(round_id, result, [True, False, True], organization.recorded_digest(round_id))
    info = organization.round(round_id)
    assert (info.state, info.result_cid) == (RoundState.FINALIZED, result)
    (record,) = HistoryReader(organization).rounds()
    assert [submission.accepted for submission in record.submissions] == [True, False, True]
    with pytest.raises(errors.RoundNotOpen, match="already finalized"):
        clients[0].submit_update(round_id, fresh_cid(), 10)  # a late comer
    with pytest.raises(errors.RoundNotOpen):
        organization.finalize_round(round_id, fresh_cid(), [True, True, True], organization.recorded_digest(round_id))


def test_finalize_refusals(organization, clients) -> None:
    round_id = open_round(organization, quorum=2)
    clients[0].submit_update(round_id, fresh_cid(), 10)
    with pytest.raises(errors.QuorumNotMet, match="1 submissions, fewer than its quorum of 2"):
        organization.finalize_round(round_id, fresh_cid(), [True], organization.recorded_digest(round_id))
    clients[1].submit_update(round_id, fresh_cid(), 10)
    digest = organization.recorded_digest(round_id)
    finalize = organization._functions.finalizeRound
    with pytest.raises(errors.InvalidAcceptedSet):
        organization._sender.send(finalize(round_id, fresh_cid().digest, b"", digest))
    with pytest.raises(errors.InvalidAcceptedSet):  # a bit set past the last submission
        organization._sender.send(finalize(round_id, fresh_cid().digest, b"\x07", digest))
    with pytest.raises(errors.InvalidCid):
        organization._sender.send(finalize(round_id, bytes(32), b"\x03", digest))


def test_abort_round_then_open_next(organization, clients) -> None:
    round_id = open_round(organization)
    clients[0].submit_update(round_id, fresh_cid(), 10)
    organization.abort_round(round_id)
    assert organization.round(round_id).state is RoundState.ABORTED
    with pytest.raises(errors.RoundNotOpen, match="aborted"):
        organization.abort_round(round_id)
    next_id = open_round(organization)
    assert next_id == round_id + 1
    clients[0].submit_update(next_id, fresh_cid(), 10)  # one submission per round, not per life


def test_paged_round_view(organization) -> None:
    for _ in range(3):
        organization.abort_round(open_round(organization))
    assert [r.round_id for r in organization.rounds(1, 2)] == [1, 2]
    assert [r.round_id for r in organization.rounds(2, 10)] == [2, 3]
    assert organization.rounds(4, 10) == []
    assert organization.round(99).state is RoundState.NONE
