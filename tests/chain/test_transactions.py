"""Gas estimated once per function, an eth_call pre-flight for every later call, one retry on out-of-gas."""

from __future__ import annotations

import pytest

from chain.accounts import dev_account
from chain.contract import FederatedLearningContract
from chain.errors import AlreadyRegistered, AlreadySubmitted
from chain.metering import meter
from chain.transactions import GasLimits
from tests.chain.conftest import fresh_cid, open_round


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
