"""The whole round lifecycle against a real Ganache, the way separate processes see it."""

from __future__ import annotations

import json
import subprocess
import sys

from chain.accounts import dev_account
from chain.backends import GanacheChain
from chain.contract import RoundState
from chain.deployments import DeploymentBook
from chain.migrate import attach, deploy
from chain.paths import REPO_ROOT
from tests.chain.conftest import fresh_cid


def test_lifecycle_on_ganache(ganache: GanacheChain, tmp_path) -> None:
    book = DeploymentBook(tmp_path / "deployments.json")
    organization = deploy(ganache, dev_account(0), book, log=lambda _: None, reset=True)
    clients = [attach(ganache, book, dev_account(index)) for index in (1, 2, 3)]  # as other processes would
    for client in clients:
        client.register()
    base = fresh_cid()
    round_id, _ = organization.open_round(base, organization.block_number() + 100, 3, 1_000)
    updates = [fresh_cid() for _ in clients]
    for client, cid, samples in zip(clients, updates, (100, 200, 300), strict=True):
        client.submit_update(round_id, cid, samples)
    result = fresh_cid()
    organization.finalize_round(round_id, result, [True, True, False], organization.recorded_digest(round_id))
    assert organization.round(round_id).state is RoundState.FINALIZED

    completed = subprocess.run(
        [sys.executable, "run.py", "history", "--json", "--chain", ganache.url, "--home", str(tmp_path)],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    )
    history = json.loads(completed.stdout)
    assert history["contract"] == organization.address
    (record,) = [r for r in history["rounds"] if r["round"] == round_id]
    assert record["state"] == "finalized"
    assert record["base_cid"] == str(base) and record["result_cid"] == str(result)
    assert [s["cid"] for s in record["submissions"]] == [str(cid) for cid in updates]
    assert [s["samples"] for s in record["submissions"]] == [100, 200, 300]
    assert [s["accepted"] for s in record["submissions"]] == [True, True, False]
    assert [s["client"] for s in record["submissions"]] == [dev_account(i).address for i in (1, 2, 3)]


def test_deploy_is_idempotent_and_redeploys_on_reset(ganache: GanacheChain, tmp_path) -> None:
    book = DeploymentBook(tmp_path / "deployments.json")
    first = deploy(ganache, dev_account(0), book, log=lambda _: None)
    again = deploy(ganache, dev_account(0), book, log=lambda _: None)
    fresh = deploy(ganache, dev_account(0), book, log=lambda _: None, reset=True)
    assert first.address == again.address != fresh.address
    assert book.get(1337, "FederatedLearning").address == fresh.address


def test_mining_advances_the_deadline_clock(ganache: GanacheChain) -> None:
    before = ganache.web3.eth.block_number
    ganache.mine_blocks(3)
    assert ganache.web3.eth.block_number == before + 3
