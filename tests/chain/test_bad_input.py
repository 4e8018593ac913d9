"""Bad input fails early and clearly: malformed CIDs, dead RPC URLs, addresses without a contract."""

from __future__ import annotations

import pytest

from chain.accounts import InvalidKeyError, account_from_key, dev_account
from chain.backends import InvalidChainSpecError, RpcChain, connect
from chain.contract import ContractNotFoundError, FederatedLearningContract
from chain.nodes import ChainUnavailableError
from storage.cid import InvalidCidError
from tests.chain.conftest import fresh_cid, open_round
from tests.support import free_port


@pytest.mark.parametrize("bad_cid", [
    "",
    "hello",
    "Qm" + "1" * 44,  # right shape, not a sha2-256 multihash
    "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",  # CIDv1: not what the chain stores
    "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQ0",  # 0 is not base58
])
def test_malformed_cid_is_rejected_before_any_transaction(organization, clients, bad_cid) -> None:
    round_id = open_round(organization)
    nonce = organization.chain.web3.eth.get_transaction_count(clients[0].account.address)
    block = organization.block_number()
    with pytest.raises(InvalidCidError, match=r"invalid CID|CIDv0"):
        clients[0].submit_update(round_id, bad_cid, 10)
    assert organization.chain.web3.eth.get_transaction_count(clients[0].account.address) == nonce
    assert organization.block_number() == block


def test_refused_call_sends_nothing(organization, clients) -> None:
    """A call the contract would refuse is caught at estimation: no transaction, no gas spent."""
    balance = organization.chain.web3.eth.get_balance(clients[0].account.address)
    nonce = organization.chain.web3.eth.get_transaction_count(clients[0].account.address)
    with pytest.raises(Exception, match="not open"):
        clients[0].submit_update(1, fresh_cid(), 10)
    assert organization.chain.web3.eth.get_balance(clients[0].account.address) == balance
    assert organization.chain.web3.eth.get_transaction_count(clients[0].account.address) == nonce


def test_unreachable_rpc_url_names_it() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ChainUnavailableError, match=url):
        RpcChain(url)


def test_unknown_chain_spec_is_explained(tmp_path) -> None:
    with pytest.raises(InvalidChainSpecError, match="embedded"):
        connect("ftp://example", tmp_path)


def test_address_without_contract_names_it(chain) -> None:
    empty = dev_account(9).address
    with pytest.raises(ContractNotFoundError, match=empty):
        FederatedLearningContract(chain, empty, dev_account(0))
    with pytest.raises(ContractNotFoundError, match="not an Ethereum address"):
        FederatedLearningContract(chain, "0x1234", dev_account(0))


def test_bad_private_key_is_not_echoed() -> None:
    with pytest.raises(InvalidKeyError) as raised:
        account_from_key("0xdeadbeef")
    assert "deadbeef" not in str(raised.value)
