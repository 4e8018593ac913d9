"""Crash safety with real processes and signals: state comes back from the chain and IPFS.

The services pause at a named point when FEDCHAIN_FAULT asks them to, so the test can kill
them exactly there with SIGKILL (no chance to clean up), then start them again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chain.accounts import dev_account
from chain.backends import GanacheChain
from chain.contract import RoundState
from chain.deployments import DeploymentBook
from chain.history import HistoryReader
from chain.migrate import attach
from tests.processes import Start

pytestmark = pytest.mark.costly  # a minute or so of end-to-end runs: scheduled first (tests/conftest.py)


def _common(ganache: GanacheChain, home: Path) -> list[str]:
    return ["--chain", ganache.url, "--home", str(home), "--poll", "0.2"]


def _organization_args(ganache: GanacheChain, home: Path) -> list[str]:
    return ["organization", *_common(ganache, home), "--model", "2nn", "--quorum", "2", "--rounds", "1",
            "--deadline-blocks", "2000"]


def _client_args(ganache: GanacheChain, home: Path, account: int) -> list[str]:
    return ["client", *_common(ganache, home), "--account", str(account), "--num-partitions", "4",
            "--rounds", "1"]


def _contract(ganache: GanacheChain, home: Path):
    return attach(ganache, DeploymentBook(home / "deployments.json"), dev_account(0))


def test_a_client_killed_mid_training_and_the_organization_killed_before_finalize_come_back(
        ganache: GanacheChain, started: Start, tmp_path: Path) -> None:
    """One round, two crashes: the restarted client takes part, the restarted organization finalizes
    the result it had planned, once, and opens no second round."""
    organization = started(*_organization_args(ganache, tmp_path), fault="before-finalize:300")
    organization.wait_for(r"round 1: opened")
    started(*_client_args(ganache, tmp_path, 1)).finish()
    crashing = started(*_client_args(ganache, tmp_path, 2), fault="during-training:300")
    crashing.wait_for("fault injection: pausing at during-training")
    crashing.kill()
    contract = _contract(ganache, tmp_path)
    assert contract.round(1).submissions == 1

    started(*_client_args(ganache, tmp_path, 2)).finish()
    planned = organization.wait_for(r"round 1: aggregated -> (Qm\w+)").group(1)
    organization.wait_for("fault injection: pausing at before-finalize")
    organization.kill()
    assert contract.round(1).state is RoundState.OPEN and contract.round(1).submissions == 2

    started(*_organization_args(ganache, tmp_path)).finish()
    info = contract.round(1)
    assert info.state is RoundState.FINALIZED and str(info.result_cid) == planned  # the same result
    finalized = [e for e in HistoryReader(contract).events(1) if e["event"] == "RoundFinalized"]
    assert len(finalized) == 1
    assert contract.round_count() == 1  # and no second round was opened by mistake
    record = HistoryReader(contract).round(1)
    assert record.state is RoundState.FINALIZED
    assert [s.client for s in record.submissions] == [dev_account(1).address, dev_account(2).address]
    assert all(s.accepted for s in record.submissions)
