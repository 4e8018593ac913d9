"""What one hostile submission cannot do any more, the frozen submission set, and ownership:
the contract side of issue 11, on the in-process EVM."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from chain import errors
from chain.accounts import dev_account
from chain.contract import UINT32_MAX, RoundState
from tests.chain.conftest import fresh_cid, open_round

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def _nonce(contract) -> int:
    return contract.chain.web3.eth.get_transaction_count(contract.account.address)


# ---------------------------------------------------------------- samples per submission


def test_samples_above_the_round_cap_are_refused(organization, clients) -> None:
    round_id = open_round(organization, max_samples=500)
    with pytest.raises(errors.TooManySamples, match="at most 500 samples in this round, not 501"):
        clients[0].submit_update(round_id, fresh_cid(), 501)
    clients[0].submit_update(round_id, fresh_cid(), 500)  # the cap itself is allowed
    assert organization.round(round_id).total_samples == 500


def test_overflow_attack_is_refused_and_honest_clients_still_submit(organization, clients) -> None:
    """Issue 11: samples = 2**64-1 used to overflow the round total and lock everyone else out."""
    round_id = open_round(organization, max_samples=10_000)
    nonce = _nonce(clients[0])
    with pytest.raises(errors.TooManySamples, match=f"not {UINT32_MAX}"):
        clients[0].submit_update(round_id, fresh_cid(), UINT32_MAX)
    with pytest.raises(errors.TooManySamples, match=f"not {2**64 - 1}"):
        clients[0].submit_update(round_id, fresh_cid(), 2**64 - 1)
    assert _nonce(clients[0]) == nonce  # refused before anything was signed
    for client in clients:
        client.submit_update(round_id, fresh_cid(), 100)
    assert (organization.round(round_id).submissions, organization.round(round_id).total_samples) == (3, 300)


def test_hand_made_calldata_with_a_64_bit_sample_count_reverts(organization, clients) -> None:
    """Past the Python wrapper: the ABI decoder refuses a value that does not fit in uint32."""
    round_id = open_round(organization, max_samples=10_000)
    selector = function_signature_to_4byte_selector("submitUpdate(uint256,bytes32,uint32)")
    data = selector + encode(["uint256", "bytes32", "uint256"], [round_id, fresh_cid().digest, 2**64 - 1])
    with pytest.raises(Exception, match="revert"):
        organization.chain.web3.eth.call({"from": clients[0].account.address, "to": organization.address,
                                          "data": data})
    clients[0].submit_update(round_id, fresh_cid(), 10_000)
    assert organization.round(round_id).total_samples == 10_000


def test_round_totals_cannot_overflow_even_at_the_widest_cap(organization, clients) -> None:
    round_id = open_round(organization, max_samples=UINT32_MAX)
    for client in clients:
        client.submit_update(round_id, fresh_cid(), UINT32_MAX)
    assert organization.round(round_id).total_samples == 3 * UINT32_MAX
    organization.finalize_round(round_id, fresh_cid(), [True, True, True], organization.recorded_digest(round_id))


def test_zero_cap_is_refused_before_sending(organization) -> None:
    nonce = _nonce(organization)
    with pytest.raises(errors.InvalidMaxSamples):
        organization.open_round(fresh_cid(), organization.block_number() + 10, 1, 0)
    with pytest.raises(errors.InvalidMaxSamples):
        organization.open_round(fresh_cid(), organization.block_number() + 10, 1, UINT32_MAX + 1)
    assert _nonce(organization) == nonce


# ---------------------------------------------------------------- frozen submission set


def test_close_submissions_freezes_the_set(organization, clients) -> None:
    round_id = open_round(organization, quorum=2)
    clients[0].submit_update(round_id, fresh_cid(), 10)
    clients[1].submit_update(round_id, fresh_cid(), 10)
    result = organization.close_submissions(round_id, organization.recorded_digest(round_id))
    (event,) = organization.web3_contract.events.SubmissionsFrozen().process_receipt(result.receipt)
    assert (event["args"]["roundId"], event["args"]["submissions"]) == (round_id, 2)
    info = organization.round(round_id)
    assert (info.state, info.submissions_closed) == (RoundState.OPEN, True)

    with pytest.raises(errors.SubmissionsClosed, match=f"round {round_id} no longer takes submissions"):
        clients[2].submit_update(round_id, fresh_cid(), 10)
    with pytest.raises(errors.SubmissionsClosed):
        organization.close_submissions(round_id, organization.recorded_digest(round_id))
    with pytest.raises(errors.InvalidAcceptedSet):  # a bit for the refused late comer
        organization.finalize_round(round_id, fresh_cid(), [True, True, True], organization.recorded_digest(round_id))
    organization.finalize_round(round_id, fresh_cid(), [True, False], organization.recorded_digest(round_id))
    assert organization.round(round_id).state is RoundState.FINALIZED


def test_frozen_round_can_be_aborted_and_the_next_round_takes_submissions(organization, clients) -> None:
    round_id = open_round(organization, quorum=3)
    clients[0].submit_update(round_id, fresh_cid(), 10)
    organization.close_submissions(round_id, organization.recorded_digest(round_id))
    organization.abort_round(round_id)
    assert organization.round(round_id).state is RoundState.ABORTED
    with pytest.raises(errors.RoundNotOpen, match="aborted"):
        organization.close_submissions(round_id, organization.recorded_digest(round_id))
    next_id = open_round(organization)
    assert organization.round(next_id).submissions_closed is False
    clients[1].submit_update(next_id, fresh_cid(), 10)


def test_close_submissions_of_a_round_never_opened_is_refused(organization) -> None:
    with pytest.raises(errors.RoundNotOpen, match="never opened"):
        organization.close_submissions(1, organization.recorded_digest(1))


# ---------------------------------------------------------------- blocks and registration keys


def test_open_block_bounds_each_rounds_events(organization, clients, chain) -> None:
    first = open_round(organization)
    clients[0].submit_update(first, fresh_cid(), 10)
    chain.mine_blocks(3)
    organization.abort_round(first)
    second = open_round(organization)
    opened = [organization.round(round_id).open_block for round_id in (first, second)]
    logs = organization.chain.web3.eth.get_logs({"address": organization.address, "fromBlock": 0,
                                                 "toBlock": "latest", "topics": [None, f"0x{first:064x}"]})
    assert logs and all(opened[0] <= log["blockNumber"] <= opened[1] for log in logs)
    assert opened[0] < opened[1]


def test_register_records_the_encryption_key(organization) -> None:
    client = organization.with_account(dev_account(5))
    key = bytes(range(1, 33))
    result = client.register(key)
    (event,) = organization.web3_contract.events.ClientRegistered().process_receipt(result.receipt)
    assert (event["args"]["client"], bytes(event["args"]["encryptionKey"])) == (client.account.address, key)
    other = organization.with_account(dev_account(6))
    with pytest.raises(ValueError, match="32 bytes"):
        other.register(b"short")
    (event,) = organization.web3_contract.events.ClientRegistered().process_receipt(other.register().receipt)
    assert bytes(event["args"]["encryptionKey"]) == bytes(32)


def test_deployment_block_is_the_deployment_block(organization) -> None:
    first_event = organization.chain.web3.eth.get_logs({"address": organization.address, "fromBlock": 0,
                                                        "toBlock": "latest"})[0]
    assert organization.deployment_block() == first_event["blockNumber"]


# ---------------------------------------------------------------- ownership


def test_ownership_moves_in_two_steps(organization) -> None:
    successor = organization.with_account(dev_account(8))
    stranger = organization.with_account(dev_account(9))
    organization.transfer_ownership(successor.account.address)
    assert (organization.owner(), organization.pending_owner()) == (dev_account(0).address, successor.account.address)
    with pytest.raises(errors.OwnableUnauthorizedAccount, match=stranger.account.address):
        stranger.accept_ownership()
    successor.accept_ownership()
    assert (organization.owner(), organization.pending_owner()) == (successor.account.address, ZERO_ADDRESS)
    with pytest.raises(errors.OwnableUnauthorizedAccount):
        open_round(organization)
    open_round(successor)


def test_renounce_is_refused_while_a_round_is_open(organization) -> None:
    round_id = open_round(organization)
    with pytest.raises(errors.RoundStillOpen, match=f"round {round_id} is still open"):
        organization.renounce_ownership()
    organization.abort_round(round_id)
    organization.renounce_ownership()
    assert organization.owner() == ZERO_ADDRESS
