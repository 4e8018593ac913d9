"""`history` and `verify` only read: they never start a chain unless asked, say which chain and which
deployment they looked for when nothing answers, and tell missing content apart from a mismatch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chain.accounts import dev_account
from chain.backends import GanacheChain
from chain.deployments import DeploymentBook
from chain.migrate import deploy
from cli.main import main
from cli.verify_command import UNREACHABLE_EXIT_CODE
from client.service import Client, ClientSettings
from client.state import ClientState
from organization.service import Organization, OrganizationSettings
from protocol.plan import TrainingPlan
from storage.embedded import EmbeddedStore
from tasks.mnist import load_mnist
from tests.support import free_port


@pytest.mark.parametrize("command", ["history", "verify"])
def test_a_local_chain_that_does_not_answer_is_not_started(command: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    monkeypatch.setenv("FEDCHAIN_GANACHE_PORT", str(port))
    assert main([command, "--chain", "ganache", "--home", str(tmp_path)]) == 1
    said = capsys.readouterr()
    assert said.err.count("\n") == 1 and said.out == ""
    assert f"http://127.0.0.1:{port}" in said.err and str(tmp_path / "deployments.json") in said.err
    assert "--start-chain" in said.err
    assert not (tmp_path / "ganache").exists()  # no database, log or PID file: nothing was started


def test_the_contract_looked_for_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FEDCHAIN_ANVIL_PORT", str(free_port()))
    address = dev_account(5).address
    assert main(["history", "--chain", "anvil", "--contract", address, "--home", str(tmp_path)]) == 1
    assert f"looked for contract {address} (--contract)" in capsys.readouterr().err


@pytest.fixture(scope="module")
def finalized_round(ganache: GanacheChain, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """One finalized round on Ganache whose content lives in the embedded store of the returned home."""
    home = tmp_path_factory.mktemp("organization")
    store = EmbeddedStore(home / "ipfs")
    contract = deploy(ganache, dev_account(0), DeploymentBook(home / "deployments.json"), reset=True,
                      log=lambda _: None)
    train, test = load_mnist()
    settings = OrganizationSettings(task="2nn", quorum=2, target=2, deadline_blocks=50, window_blocks=0,
                                    plan=TrainingPlan(epochs=1, batch_size=10, lr=0.1))
    organization = Organization(contract, store, settings, test.subset(np.arange(200)), log=lambda _: None)
    clients = []
    for index in (1, 2):
        account = dev_account(index)
        client = Client(contract.with_account(account), store, train.subset(np.arange(index, len(train), 50)),
                        ClientState(home / "clients" / account.address), ClientSettings(), log=lambda _: None)
        client.ensure_registered()
        clients.append(client)
    round_id, _ = organization.open_round()
    for client in clients:
        client.participate(round_id)
    organization.close_round(round_id)
    return contract.address, home


def test_verify_without_the_content_says_so_and_is_no_mismatch(ganache: GanacheChain, finalized_round: tuple[str, Path],
                                                               tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    address, home = finalized_round
    attach = ["verify", "--chain", ganache.url, "--contract", address]
    assert main([*attach, "--home", str(tmp_path)]) == UNREACHABLE_EXIT_CODE
    said = capsys.readouterr().out
    assert "content not reachable: pass --ipfs" in said and "FAIL" not in said
    assert main([*attach, "--home", str(home)]) == 0  # the same round, with its content at hand
    assert "1/1 finalized rounds verified" in capsys.readouterr().out
