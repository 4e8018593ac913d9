"""The round header's rules: the round kind checked at every entry point, the minimum collection
window, and the submissions digest that close and finalize must name."""

from __future__ import annotations

import pytest

from chain import errors
from chain.accounts import dev_account
from chain.backends import EmbeddedChain
from chain.contract import (
    EMPTY_SUBMISSIONS_DIGEST,
    ExclusionReason,
    FederatedLearningContract,
    RoundKind,
    RoundState,
    SecureDeadlines,
    submissions_digest,
)
from tests.chain.conftest import fresh_cid, key_of


def _secure_round(organization: FederatedLearningContract) -> int:
    now = organization.block_number()
    deadlines = SecureDeadlines(now + 5, now + 10, now + 15, now + 20, now + 25)
    round_id, _ = organization.open_secure_round(fresh_cid(), deadlines, 3, 100)
    return round_id


def test_plain_functions_refuse_a_secure_round(organization, clients) -> None:
    round_id = _secure_round(organization)
    assert organization.round(round_id).kind is RoundKind.SECURE
    for refused in (lambda: clients[0].submit_update(round_id, fresh_cid(), 10),
                    lambda: organization.close_submissions(round_id, EMPTY_SUBMISSIONS_DIGEST),
                    lambda: organization.finalize_round(round_id, fresh_cid(), [], EMPTY_SUBMISSIONS_DIGEST),
                    lambda: organization.abort_round(round_id)):
        with pytest.raises(errors.NotPlainRound, match=f"round {round_id} is a secure-aggregation round"):
            refused()
    assert organization.round(round_id).state is RoundState.OPEN


def test_secure_functions_refuse_a_plain_round(organization, clients) -> None:
    round_id, _ = organization.open_round(fresh_cid(), organization.block_number() + 20, 1, 100)
    assert organization.round(round_id).kind is RoundKind.PLAIN
    for refused in (lambda: clients[0].join_round(round_id, key_of(clients[0])),
                    lambda: clients[0].submit_masked_update(round_id, fresh_cid(), 10),
                    lambda: clients[0].post_shares(round_id, bytes(range(32)), fresh_cid()),
                    lambda: clients[0].reveal_shares(round_id, fresh_cid()),
                    lambda: organization.exclude_masked_update(round_id, clients[0].account.address,
                                                               ExclusionReason.MISSING),
                    lambda: organization.end_review(round_id),
                    lambda: organization.finalize_secure_round(round_id, fresh_cid()),
                    lambda: organization.abort_secure_round(round_id)):
        with pytest.raises(errors.NotSecureRound):
            refused()


def test_a_removed_client_cannot_submit_a_masked_update(chain: EmbeddedChain, organization, clients) -> None:
    round_id = _secure_round(organization)
    clients[0].join_round(round_id, key_of(clients[0]))
    organization.remove_client(clients[0].account.address)
    chain.mine_blocks(10)  # into the submission phase
    with pytest.raises(errors.NotRegistered):
        clients[0].submit_masked_update(round_id, fresh_cid(), 10)


def test_sybils_reaching_the_target_cannot_close_before_the_window(chain: EmbeddedChain, organization,
                                                                   clients) -> None:
    opened_at = organization.block_number() + 1  # the block the open lands in
    round_id, result = organization.open_round(fresh_cid(), opened_at + 30, 2, 100, window=6)
    event = organization.web3_contract.events.RoundOpened().process_receipt(result.receipt)[0]
    assert event["args"]["window"] == 6
    info = organization.round(round_id)
    assert (info.open_block, info.window, info.closable_at) == (opened_at, 6, opened_at + 6)
    for sybil in clients[:2]:  # target = quorum = 2, reached at once
        sybil.submit_update(round_id, fresh_cid(), 10)
    digest = organization.recorded_digest(round_id)
    with pytest.raises(errors.CollectionWindowOpen, match=f"collects until block {opened_at + 6}"):
        organization.close_submissions(round_id, digest)
    with pytest.raises(errors.CollectionWindowOpen):  # finalize without a close is held to the window too
        organization.finalize_round(round_id, fresh_cid(), [True, True], digest)
    clients[2].submit_update(round_id, fresh_cid(), 10)  # an honest client answers within the window
    chain.mine_blocks(opened_at + 6 - organization.block_number() - 1)  # the close lands in block opened_at + 6
    organization.close_submissions(round_id, organization.recorded_digest(round_id))
    assert organization.round(round_id).submissions == 3


def test_a_window_past_the_deadline_lets_only_the_deadline_close(chain: EmbeddedChain, organization, clients) -> None:
    round_id, _ = organization.open_round(fresh_cid(), organization.block_number() + 3, 1, 100, window=50)
    clients[0].submit_update(round_id, fresh_cid(), 10)
    with pytest.raises(errors.CollectionWindowOpen):
        organization.close_submissions(round_id, organization.recorded_digest(round_id))
    chain.mine_blocks(3)
    organization.close_submissions(round_id, organization.recorded_digest(round_id))


def test_the_digest_chains_sender_cid_and_samples_in_order(organization, clients) -> None:
    round_id, _ = organization.open_round(fresh_cid(), organization.block_number() + 20, 1, 100)
    assert organization.recorded_digest(round_id) == EMPTY_SUBMISSIONS_DIGEST
    sent = [(client.account.address, fresh_cid(), samples) for client, samples in zip(clients, (7, 8, 9), strict=True)]
    for client, (_, cid, samples) in zip(clients, sent, strict=True):
        client.submit_update(round_id, cid, samples)
    assert organization.recorded_digest(round_id) == submissions_digest(sent)
    assert submissions_digest(list(reversed(sent))) != submissions_digest(sent)  # the order is part of it


def test_close_and_finalize_refuse_another_digest(organization, clients) -> None:
    round_id, _ = organization.open_round(fresh_cid(), organization.block_number() + 20, 2, 100)
    first = [(clients[0].account.address, fresh_cid(), 10), (clients[1].account.address, fresh_cid(), 20)]
    for client, (_, cid, samples) in zip(clients[:2], first, strict=True):
        client.submit_update(round_id, cid, samples)
    screened = submissions_digest(first)
    clients[2].submit_update(round_id, fresh_cid(), 30)  # lands after the organization read the round
    with pytest.raises(errors.SubmissionsDigestMismatch, match=f"round {round_id}: the submissions screened"):
        organization.close_submissions(round_id, screened)
    with pytest.raises(errors.SubmissionsDigestMismatch):
        organization.finalize_round(round_id, fresh_cid(), [True, True, False], screened)
    recorded = organization.recorded_digest(round_id)
    organization.close_submissions(round_id, recorded)
    organization.finalize_round(round_id, fresh_cid(), [True, True, False], recorded)
    assert organization.round(round_id).state is RoundState.FINALIZED


def test_a_digest_of_the_wrong_length_is_refused_before_sending(organization) -> None:
    with pytest.raises(ValueError, match="27 bytes"):
        organization.close_submissions(1, bytes(32))


def test_dev_account_zero_owns_and_others_may_not_close(organization, clients) -> None:
    round_id, _ = organization.open_round(fresh_cid(), organization.block_number() + 20, 1, 100)
    with pytest.raises(errors.OwnableUnauthorizedAccount):
        clients[0].close_submissions(round_id, EMPTY_SUBMISSIONS_DIGEST)
    assert organization.owner() == dev_account(0).address
