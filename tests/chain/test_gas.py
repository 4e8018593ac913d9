"""Gas per transaction does not grow with the number of clients or rounds.

Receipts differ by a few gas when the calldata differs (a zero byte costs 4 gas, any other
byte 16), so flatness is asserted on the execution gas (gas used minus the intrinsic cost of
the transaction): it is identical for the 1st and the last client, and for round 1 and the last round.
The contract has no loop over clients or rounds; one would show as gas that grows from the 1st
client (round) to the 20th (11th) as surely as to the 500th: gas is deterministic.
"""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_utils import keccak

from chain.accounts import dev_account
from chain.backends import EmbeddedChain
from chain.contract import FederatedLearningContract
from chain.deployments import DeploymentBook
from chain.migrate import deploy
from chain.transactions import TxResult
from tests.chain.conftest import fresh_cid

CLIENTS = 20
ROUNDS = 10
MAX_SAMPLES = 1_000
SUBMIT_TARGET = 60_000
ROUND_TARGET = 120_000  # openRound, closeSubmissions and finalizeRound each


def _gas(contract: FederatedLearningContract, result: TxResult) -> dict[str, int]:
    """Gas used, and the part of it the contract's code spent (without the calldata's cost)."""
    data = bytes(contract.chain.web3.eth.get_transaction(result.tx_hash)["input"])
    intrinsic = 21_000 + sum(4 if byte == 0 else 16 for byte in data)
    return {"used": result.gas_used, "execution": result.gas_used - intrinsic}


def _round_gas(organization, first, last) -> dict[str, dict[str, int]]:
    """Gas of each transaction of one round in which the first and the last client submit."""
    round_id, opened = organization.open_round(fresh_cid(), organization.block_number() + 100, 2, MAX_SAMPLES,
                                               window=2)
    gas = {"openRound": _gas(organization, opened),
           "submitUpdate (1st client)": _gas(first, first.submit_update(round_id, fresh_cid(), 100)),
           "submitUpdate (last client)": _gas(last, last.submit_update(round_id, fresh_cid(), 100))}
    digest = organization.recorded_digest(round_id)
    gas["closeSubmissions"] = _gas(organization, organization.close_submissions(round_id, digest))
    gas["finalizeRound"] = _gas(organization, organization.finalize_round(round_id, fresh_cid(), [True, True], digest))
    return gas


@pytest.fixture(scope="module")
def measured() -> dict[str, dict[str, dict[str, int]]]:
    extra = [Account.from_key(keccak(text=f"gas test client {index}")) for index in range(CLIENTS)]
    chain = EmbeddedChain(extra)
    organization = deploy(chain, dev_account(0), DeploymentBook(None), log=lambda _: None)
    clients = [organization.with_account(account) for account in extra]
    registered = [_gas(client, client.register()) for client in clients[:-1]]
    with_key = _gas(clients[-1], clients[-1].register(keccak(text="an X25519 public key")))
    first, last = clients[0], clients[-1]
    round_1 = _round_gas(organization, first, last)
    for _ in range(ROUNDS - 2):
        round_id, _ = organization.open_round(fresh_cid(), organization.block_number() + 10, 1, MAX_SAMPLES)
        organization.abort_round(round_id)
    round_id, _ = organization.open_round(fresh_cid(), organization.block_number() + 10, 1, MAX_SAMPLES)
    abort_gas = _gas(organization, organization.abort_round(round_id))
    last_round = _round_gas(organization, first, last)
    assert organization.round_count() == ROUNDS + 1
    return {
        "register": {"1st": registered[0], "next to last": registered[-1], "last (with a key)": with_key},
        "round 1": round_1,
        "last round": last_round,
        "abortRound": {"next to last round": abort_gas},
    }


def test_registration_gas_is_flat(measured) -> None:
    execution = {who: gas["execution"] for who, gas in measured["register"].items()}
    assert len(set(execution.values())) == 1, measured["register"]


def test_submission_gas_is_flat_in_clients_and_rounds(measured) -> None:
    values = [measured[r][f"submitUpdate ({who} client)"]["execution"]
              for r in ("round 1", "last round") for who in ("1st", "last")]
    assert len(set(values)) == 1, values


@pytest.mark.parametrize("transaction", ["openRound", "closeSubmissions", "finalizeRound"])
def test_round_gas_is_flat_in_rounds(measured, transaction) -> None:
    first, later = measured["round 1"][transaction], measured["last round"][transaction]
    assert first["execution"] == later["execution"], (transaction, first, later)


def test_gas_meets_targets(measured) -> None:
    rounds = (measured["round 1"], measured["last round"])
    assert max(r[f"submitUpdate ({w} client)"]["used"] for r in rounds for w in ("1st", "last")) <= SUBMIT_TARGET
    for transaction in ("openRound", "closeSubmissions", "finalizeRound"):
        assert max(r[transaction]["used"] for r in rounds) <= ROUND_TARGET, transaction
    print("\ngas per transaction:", measured)
