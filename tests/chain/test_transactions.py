"""Gas estimated once per function, an eth_call pre-flight for every later call, one retry on out-of-gas."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from chain.accounts import dev_account
from chain.contract import FederatedLearningContract
from chain.errors import AlreadyRegistered, AlreadySubmitted
from chain.metering import meter
from chain.transactions import GasLimits
from tests.chain.conftest import fresh_cid, key_of, open_round


def test_gas_is_estimated_once_per_function_and_refusals_still_raise_the_named_error(
        organization: FederatedLearningContract, clients: list[FederatedLearningContract]) -> None:
    round_id = open_round(organization, quorum=1)
    clients[0].submit_update(round_id, fresh_cid(), 10)  # the first submission learns submitUpdate's gas
    requests = meter(organization.chain.web3).requests
    clients[1].submit_update(round_id, fresh_cid(), 10)
    assert requests["eth_estimateGas"] == 0
    assert requests["eth_call"] == 1  # the pre-flight

    nonce = organization.chain.web3.eth.get_transaction_count(clients[1].account.address)
    balance = organization.chain.web3.eth.get_balance(clients[1].account.address)
    with pytest.raises(AlreadySubmitted):
        clients[1].submit_update(round_id, fresh_cid(), 10)
    with pytest.raises(AlreadyRegistered):
        clients[1].register()
    assert organization.chain.web3.eth.get_transaction_count(clients[1].account.address) == nonce
    assert organization.chain.web3.eth.get_balance(clients[1].account.address) == balance  # nothing spent


def test_a_transaction_that_runs_out_of_gas_is_estimated_again_and_sent_once_more(
        organization: FederatedLearningContract) -> None:
    client = organization.with_account(dev_account(4))
    register = client.web3_contract.functions.register(bytes(32))
    limits = GasLimits.of(organization.chain.web3)
    limits.learn(register, 20_000)  # far too little for a registration
    result = client.register()
    assert result.receipt["status"] == 1
    assert limits.get(register) > result.gas_used
    nonce = organization.chain.web3.eth.get_transaction_count(client.account.address)
    assert nonce == 2  # the failed attempt and the retry


def test_threads_that_need_the_same_unknown_limit_at_once_ask_the_node_for_it_once(
        organization: FederatedLearningContract) -> None:
    """Ganache answered eight concurrent estimates of `register` in 0.9 s each and one in 10 s: the
    demo's enrolling threads now wait for the first estimate and pre-flight with an eth_call."""
    accounts = [organization.with_account(dev_account(index)) for index in (4, 5, 6, 7)]
    requests = meter(organization.chain.web3).requests
    with ThreadPoolExecutor(max_workers=len(accounts)) as pool:
        results = list(pool.map(lambda client: client.register(key_of(client)), accounts))
    assert all(result.receipt["status"] == 1 for result in results)
    assert requests["eth_estimateGas"] == 1
    assert requests["eth_call"] >= len(accounts) - 1  # the others' pre-flights
