"""The in-process EVM's provider answers reads from memory until the chain changes, and log
queries from logs kept per block: both must equal what eth-tester itself answers, at every moment."""

from __future__ import annotations

import pytest
from web3.providers.eth_tester import EthereumTesterProvider

from chain.accounts import dev_account
from chain.backends import EmbeddedChain
from chain.deployments import DeploymentBook
from chain.migrate import deploy


def _uncached(chain: EmbeddedChain, method: str, params: tuple) -> object:
    return EthereumTesterProvider.make_request(chain.web3.provider, method, params)["result"]


@pytest.fixture(scope="module")
def chain_with_logs():
    chain = EmbeddedChain()
    contract = deploy(chain, dev_account(0), DeploymentBook(None), log=lambda _: None)
    for index in (1, 2, 3):
        contract.with_account(dev_account(index)).register()
        chain.mine_blocks(2)
    return chain, contract


def test_log_queries_equal_eth_testers_for_every_filter(chain_with_logs) -> None:
    chain, contract = chain_with_logs
    logs = _uncached(chain, "eth_getLogs", ({"from_block": 0, "to_block": "latest"},))
    registered = logs[-1]["topics"][0]
    someone = logs[-1]["topics"][1] if len(logs[-1]["topics"]) > 1 else None
    head = chain.web3.eth.block_number
    criteria = [
        {"from_block": 0, "to_block": "latest"},
        {"from_block": 0, "to_block": "latest", "address": [contract.address]},
        {"from_block": 0, "to_block": "latest", "address": [contract.address.lower()]},
        {"from_block": 0, "to_block": "latest", "address": ["0x" + "00" * 20]},
        {"from_block": 3, "to_block": head - 2},
        {"from_block": head, "to_block": head},
        {"from_block": 1, "to_block": "latest", "topics": [registered]},
        {"from_block": 0, "to_block": "latest", "topics": [[registered, "0x" + "11" * 32]]},
        {"from_block": 0, "to_block": "latest", "topics": [None, someone]},
        {"from_block": 0, "to_block": "latest", "topics": [registered, None, None, "0x" + "22" * 32]},
        {"from_block": head + 5, "to_block": "latest"},
    ]
    for criterion in criteria:
        answered = chain.web3.provider.make_request("eth_getLogs", (criterion,))["result"]
        assert list(answered) == list(_uncached(chain, "eth_getLogs", (criterion,))), criterion
    assert any(chain.web3.provider.make_request("eth_getLogs", (c,))["result"] for c in criteria[6:9])


def test_reads_follow_every_transaction_and_mined_block() -> None:
    chain = EmbeddedChain()
    contract = deploy(chain, dev_account(0), DeploymentBook(None), log=lambda _: None)
    count, block = contract.client_count(), chain.web3.eth.block_number
    contract.with_account(dev_account(1)).register()
    assert contract.client_count() == count + 1 and chain.web3.eth.block_number == block + 1
    chain.mine_blocks(3)
    assert chain.web3.eth.block_number == block + 4
    before = len(chain.web3.eth.get_logs({"fromBlock": 0, "toBlock": "latest"}))
    contract.with_account(dev_account(2)).register()
    assert len(chain.web3.eth.get_logs({"fromBlock": 0, "toBlock": "latest"})) > before


@pytest.mark.parametrize("kind", ["deploy", "register"])
def test_the_gas_estimate_is_enough_and_at_most_the_sstore_margin_above_the_least_that_is(kind: str) -> None:
    """The in-process chain estimates in two runs of a transaction (chain/embedded_gas.py); py-evm's
    exact bisection gives the least limit that succeeds: ours is never below it, nor far above."""
    from eth.estimators.gas import binary_gas_search_exact

    from chain.embedded_gas import SSTORE_SENTRY_GAS

    chain = EmbeddedChain()
    contract = deploy(chain, dev_account(0), DeploymentBook(None), log=lambda _: None)
    if kind == "deploy":
        deployment = chain.web3.eth.get_transaction(chain.web3.eth.get_block(1)["transactions"][0])
        transaction = {"from": dev_account(1).address, "data": deployment["input"].to_0x_hex()}
    else:
        transaction = contract.with_account(dev_account(2))._functions.register(bytes(range(32))).build_transaction(
            {"from": dev_account(2).address})
        transaction = {key: transaction[key] for key in ("from", "to", "data")}
    ours = _uncached(chain, "eth_estimateGas", (transaction, "latest"))
    py_evm = chain._tester.backend.chain
    py_evm.gas_estimator = binary_gas_search_exact
    least = _uncached(chain, "eth_estimateGas", (transaction, "latest"))
    assert least <= ours <= least + SSTORE_SENTRY_GAS
