"""Fees and nonces on a chain that does not mine at once (issue 20): a stuck transaction is replaced
at the same nonce with a 12.5% higher fee, never sent again at a new nonce; the fee cap is kept;
processes sharing a key and a home take turns. On a real Anvil with automine off."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.accounts import dev_account
from chain.contract import ClientStatus, FederatedLearningContract
from chain.errors import NonceTaken
from chain.fees import Fees
from chain.paths import REPO_ROOT
from chain.sending_policy import SendingPolicy
from tests.chain.conftest import deployed_on_anvil
from tests.support import wait_until


@pytest.fixture(scope="module")
def organization() -> Iterator[FederatedLearningContract]:
    with deployed_on_anvil() as organization:
        yield organization


@pytest.fixture
def mining_on_request(organization: FederatedLearningContract) -> Iterator[list[str]]:
    """Automine off and a short replacement wait for the test; what the sender said is collected."""
    web3 = organization.chain.web3
    said: list[str] = []
    web3.provider.make_request("evm_setAutomine", [False])
    try:
        yield said
    finally:
        SendingPolicy().apply_to(web3)
        web3.provider.make_request("evm_setAutomine", [True])


def _in_background(action) -> tuple[threading.Thread, list]:
    """The action in a thread; its result (or the exception it raised) lands in the list."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(action())
        except Exception as error:
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _mined_from(organization: FederatedLearningContract, address: str, first_block: int) -> list[dict]:
    web3 = organization.chain.web3
    return [tx for number in range(first_block, web3.eth.block_number + 1)
            for tx in web3.eth.get_block(number, full_transactions=True)["transactions"] if tx["from"] == address]


def test_fee_bump_is_at_least_twelve_and_a_half_percent_on_both_fields() -> None:
    bumped = Fees(max_fee=80_000, tip=1_000).bumped(Fees(max_fee=1, tip=1))
    assert (bumped.max_fee, bumped.tip) == (90_000, 1_125)
    assert Fees(100, 1).bumped(Fees(200, 50)) == Fees(200, 50)  # the market asks more: pay that
    assert Fees(8, 0).bumped(Fees(1, 0)).tip >= 1


def test_a_stuck_transaction_is_replaced_at_the_same_nonce_and_only_one_is_mined(
        organization, mining_on_request) -> None:
    web3, client = organization.chain.web3, organization.with_account(dev_account(5))
    SendingPolicy(replace_after_seconds=0.3, say=mining_on_request.append).apply_to(web3)
    nonce, first_block = web3.eth.get_transaction_count(client.account.address), web3.eth.block_number + 1

    thread, outcome = _in_background(lambda: client.register(bytes(32)))
    wait_until(lambda: sum("replaced at the same nonce" in line for line in mining_on_request) >= 2, 60,
               "two replacements")
    pending = web3.eth.get_transaction_count(client.account.address, "pending")
    web3.provider.make_request("evm_mine", [])
    thread.join(60)

    (result,) = outcome
    mined = _mined_from(organization, client.account.address, first_block)
    assert [tx["hash"].to_0x_hex() for tx in mined] == [result.tx_hash]  # one version only, ever
    assert mined[0]["nonce"] == nonce and pending == nonce + 1  # the replacements never took a new nonce
    assert web3.eth.get_transaction_count(client.account.address) == nonce + 1
    assert result.tx_hash in mining_on_request[-1]  # the last replacement, the best-paying one, was mined
    assert organization.client_info(client.account.address).status is ClientStatus.REGISTERED


def test_a_fee_cap_that_forbids_a_bump_is_said_once_and_the_transaction_still_waits(
        organization, mining_on_request) -> None:
    web3, sender = organization.chain.web3, organization.with_account(dev_account(6))
    cap = 2 * web3.eth.get_block("latest")["baseFeePerGas"] + web3.eth.max_priority_fee  # today's fee, no room
    SendingPolicy(max_fee_wei=cap, replace_after_seconds=0.2, say=mining_on_request.append).apply_to(web3)
    nonce, first_block = web3.eth.get_transaction_count(sender.account.address), web3.eth.block_number + 1

    thread, outcome = _in_background(lambda: sender.fund(dev_account(7).address, 0.001))
    wait_until(lambda: any("above --max-fee-gwei" in line for line in mining_on_request), 60, "the cap line")
    web3.provider.make_request("evm_mine", [])
    thread.join(60)

    (result,) = outcome
    assert [line for line in mining_on_request if "still waiting" in line] == mining_on_request[:1]
    assert not any("replaced" in line for line in mining_on_request)
    (mined,) = _mined_from(organization, sender.account.address, first_block)
    assert (mined["hash"].to_0x_hex(), mined["nonce"]) == (result.tx_hash, nonce)
    assert mined["maxFeePerGas"] <= cap


def test_a_nonce_another_program_used_stops_the_wait_in_one_line_and_nothing_is_sent_again(
        organization, mining_on_request) -> None:
    web3, sender = organization.chain.web3, organization.with_account(dev_account(4))
    SendingPolicy(replace_after_seconds=0.2, say=mining_on_request.append).apply_to(web3)
    nonce, first_block = web3.eth.get_transaction_count(sender.account.address), web3.eth.block_number + 1

    thread, outcome = _in_background(lambda: sender.fund(dev_account(7).address, 0.001))
    wait_until(lambda: web3.eth.get_transaction_count(sender.account.address, "pending") == nonce + 1, 30,
               "the transaction in the pool")
    fee = 10 * (2 * web3.eth.get_block("latest")["baseFeePerGas"] + web3.eth.max_priority_fee)
    elsewhere = sender.account.sign_transaction({  # the same key, used by another program at the same nonce
        "to": dev_account(9).address, "value": 1, "gas": 21_000, "nonce": nonce, "chainId": web3.eth.chain_id,
        "maxFeePerGas": fee, "maxPriorityFeePerGas": fee})
    other = web3.eth.send_raw_transaction(elsewhere.raw_transaction)
    web3.provider.make_request("evm_mine", [])
    thread.join(60)

    (error,) = outcome
    assert isinstance(error, NonceTaken) and str(error).startswith(
        f"nonce {nonce} of account {sender.account.address} was used by another transaction")
    assert [tx["hash"] for tx in _mined_from(organization, sender.account.address, first_block)] == [other]
    assert web3.eth.get_transaction_count(sender.account.address, "pending") == nonce + 1  # nothing sent after


def test_processes_sharing_a_key_and_a_home_take_turns_and_the_waiting_one_names_the_holder(
        organization, tmp_path: Path) -> None:
    web3, sender = organization.chain.web3, organization.with_account(dev_account(8))
    said: list[str] = []
    SendingPolicy(lock_home=tmp_path, say=said.append).apply_to(web3)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; from chain.signer_lock import SignerLock\n"
         f"with SignerLock(Path({str(tmp_path)!r}), {web3.eth.chain_id}, {sender.account.address!r}).held(print):\n"
         "    print('holding', flush=True); sys.stdin.readline()"],
        cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        nonce = web3.eth.get_transaction_count(sender.account.address)
        thread, outcome = _in_background(lambda: sender.fund(dev_account(9).address, 0.001))
        wait_until(lambda: bool(said), 30, "the line naming the holder")
        assert f"is sending a transaction in process {holder.pid} (" in said[0]
        assert sender.account.address in said[0] and thread.is_alive()
        assert web3.eth.get_transaction_count(sender.account.address, "pending") == nonce  # nothing sent yet
        holder.stdin.write("\n")
        holder.stdin.flush()
        thread.join(60)
        assert outcome and web3.eth.get_transaction_count(sender.account.address) == nonce + 1
    finally:
        SendingPolicy().apply_to(web3)
        holder.kill()
        holder.wait()
