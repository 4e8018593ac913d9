"""Reorgs under a plain round, driven with Anvil's `anvil_reorg`: whatever order or set of
submissions the chain ends up with, the organization finalizes exactly what it screened, or the
contract refuses (the submissions digest) and the organization screens again with one log line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.backends import GanacheChain, anvil_executable, free_port, start_anvil
from chain.contract import FederatedLearningContract, RoundState
from chain.history import HistoryReader
from protocol.verification import verify_round
from tests.chain.reorg import MinedTransaction, reorg
from tests.protocol.conftest import Federation, build_federation
from tests.protocol.test_rounds import _loud
from tests.support import require_component


@pytest.fixture
def anvil() -> Iterator[GanacheChain]:
    require_component(anvil_executable() is not None, "Anvil", "run ./setup.sh to install @foundry-rs/anvil")
    node = start_anvil(free_port(), None)
    try:
        yield GanacheChain(node.url)
    finally:
        node.stop()


def _federation(home: Path, chain: GanacheChain, quorum: int) -> tuple[Federation, list[str]]:
    federation = build_federation(home, quorum=quorum, target=3, chain=chain)
    lines: list[str] = []
    federation.organization.log = lines.append
    return federation, lines


def _accepted_clients(contract: FederatedLearningContract, round_id: int) -> set[str]:
    record = HistoryReader(contract).round(round_id)
    assert record is not None and record.state is RoundState.FINALIZED
    return {submission.client for submission in record.accepted}


class _ReorderBeforeFinalize(FederatedLearningContract):
    """The organization's contract, with a reorg just before its first finalize: the round's three
    submissions and its close are mined again with the last submission first."""

    reorged = False

    def finalize_round(self, *arguments, **keywords):
        if not self.reorged:
            self.reorged = True

            def bad_first(mined: list[MinedTransaction]) -> list[MinedTransaction]:
                *submissions, close = mined
                return [submissions[-1], *submissions[:-1], close]

            reorg(self.chain.web3, 4, bad_first)
        return super().finalize_round(*arguments, **keywords)


def test_a_reorg_reordering_screened_submissions_cannot_finalize_the_wrong_set(tmp_path, anvil) -> None:
    federation, lines = _federation(tmp_path, anvil, quorum=2)
    organization, clients = federation.organization, federation.clients
    contract = organization.contract
    organization.contract = _ReorderBeforeFinalize(contract.chain, contract.address, contract.account)
    round_id, _ = organization.open_round()
    for client in clients[:2]:
        client.participate(round_id)
    data, samples = _loud(round_id, contract.round(round_id).base_cid, 100)
    clients[2].contract.submit_update(round_id, federation.store.add_bytes(data), samples)  # screened out

    first = organization.close_round(round_id)  # screened [honest, honest, loud]; the chain now has [loud, ...]
    assert first.state is RoundState.OPEN and "no longer the ones read and screened" in (first.reason or "")
    assert contract.round(round_id).state is RoundState.OPEN  # nothing was finalized
    assert any("close postponed" in line for line in lines)

    second = organization.close_round(round_id)  # reads and screens the reordered set
    assert second.state is RoundState.FINALIZED and second.accepted == [False, True, True]
    assert _accepted_clients(contract, round_id) == {c.contract.account.address for c in clients[:2]}
    check = verify_round(contract, federation.store, round_id)
    assert check.ok, check.message


def test_a_reorg_dropping_a_screened_submission_is_screened_again(tmp_path, anvil) -> None:
    federation, lines = _federation(tmp_path, anvil, quorum=2)
    organization, clients = federation.organization, federation.clients
    round_id, _ = organization.open_round()
    for client in clients:
        client.participate(round_id)
    organization.screen_landed(round_id)  # all three screened while the round collects
    assert organization.screened(round_id) == 3

    reorg(anvil.web3, 2, lambda mined: [mined[1]])  # the second submission is gone, the third stays
    outcome = organization.close_round(round_id)
    assert any("changed under the screening (a reorg)" in line for line in lines), lines
    assert outcome.state is RoundState.FINALIZED and outcome.accepted == [True, True]
    expected = {clients[0].contract.account.address, clients[2].contract.account.address}
    assert _accepted_clients(organization.contract, round_id) == expected
    assert verify_round(organization.contract, federation.store, round_id).ok
