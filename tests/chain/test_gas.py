"""Gas per transaction does not grow with the number of clients or rounds (within 1%)."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_utils import keccak

from chain.accounts import dev_account
from chain.backends import EmbeddedChain
from chain.deployments import DeploymentBook
from chain.migrate import deploy
from tests.chain.conftest import fresh_cid

CLIENTS = 500
ROUNDS = 50


def _round_gas(organization, first, last) -> dict[str, int]:
    """Gas of each transaction of one round in which the first and the last client submit."""
    base = fresh_cid()
    round_id, opened = organization.open_round(base, organization.block_number() + 100, 2)
    return {
        "openRound": opened.gas_used,
        "submitUpdate (1st client)": first.submit_update(round_id, fresh_cid(), 100).gas_used,
        "submitUpdate (500th client)": last.submit_update(round_id, fresh_cid(), 100).gas_used,
        "finalizeRound": organization.finalize_round(round_id, fresh_cid(), [True, True]).gas_used,
    }


@pytest.fixture(scope="module")
def measured() -> dict[str, dict[str, int]]:
    extra = [Account.from_key(keccak(text=f"gas test client {index}")) for index in range(CLIENTS)]
    chain = EmbeddedChain(extra)
    organization = deploy(chain, dev_account(0), DeploymentBook(None), log=lambda _: None)
    clients = [organization.with_account(account) for account in extra]
    register_gas = [client.register().gas_used for client in clients]
    first, last = clients[0], clients[-1]
    round_1 = _round_gas(organization, first, last)
    for _ in range(ROUNDS - 2):
        round_id, _ = organization.open_round(fresh_cid(), organization.block_number() + 10, 1)
        organization.abort_round(round_id)
    abort_gas = organization.abort_round(organization.open_round(fresh_cid(), organization.block_number() + 10, 1)[0])
    round_50 = _round_gas(organization, first, last)
    assert organization.round_count() == ROUNDS + 1
    return {
        "register": {"1st": register_gas[0], "500th": register_gas[-1]},
        "round 1": round_1,
        "round 51": round_50,
        "abortRound": {"round 50": abort_gas.gas_used},
    }


def _within_one_percent(a: int, b: int) -> bool:
    return abs(a - b) <= 0.01 * min(a, b)


def test_registration_gas_is_flat(measured) -> None:
    gas = measured["register"]
    assert _within_one_percent(gas["1st"], gas["500th"]), gas


def test_submission_gas_is_flat_in_clients_and_rounds(measured) -> None:
    values = [measured[r][f"submitUpdate ({who} client)"] for r in ("round 1", "round 51") for who in ("1st", "500th")]
    assert all(_within_one_percent(values[0], value) for value in values), values


@pytest.mark.parametrize("transaction", ["openRound", "finalizeRound"])
def test_round_gas_is_flat_in_rounds(measured, transaction) -> None:
    first, later = measured["round 1"][transaction], measured["round 51"][transaction]
    assert _within_one_percent(first, later), (transaction, first, later)


def test_gas_meets_targets(measured) -> None:
    rounds = (measured["round 1"], measured["round 51"])
    assert max(r[f"submitUpdate ({w} client)"] for r in rounds for w in ("1st", "500th")) <= 60_000
    assert max(r["openRound"] for r in rounds) <= 120_000
    assert max(r["finalizeRound"] for r in rounds) <= 120_000
    print("\ngas per transaction:", measured)
