"""Every built-in task trains a round through the protocol (contract, store, organization, two
clients) and the round verifies from public data, without the task's code on the verifier's side."""

from __future__ import annotations

import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from chain.accounts import dev_account
from chain.backends import EmbeddedChain
from chain.deployments import DeploymentBook
from chain.migrate import deploy
from client.service import Client, ClientSettings
from client.state import ClientState
from mlprocessor.data import Dataset
from mlprocessor.task_registry import BUILTIN, get_task
from organization.driver import RoundDriver
from organization.service import Organization, OrganizationSettings
from protocol.plan import TrainingPlan
from protocol.verification import verify_round
from storage.embedded import EmbeddedStore

EXAMPLES = 64


@cache
def _data(task_name: str) -> tuple[Dataset, Dataset]:
    train, test = get_task(task_name).load_data()
    pick = np.random.default_rng(0).permutation(len(train))[: 2 * EXAMPLES]
    return train.subset(np.sort(pick)), test.subset(np.arange(min(len(test), 200)))


@pytest.mark.parametrize("task_name", sorted(BUILTIN))
def test_a_round_of_every_builtin_task_finalizes_and_verifies(tmp_path: Path, task_name: str) -> None:
    task = get_task(task_name)
    train, test = _data(task_name)
    chain, store = EmbeddedChain(), EmbeddedStore(tmp_path / "ipfs")
    contract = deploy(chain, dev_account(0), DeploymentBook(None), log=lambda _: None)
    plan = TrainingPlan(epochs=1, batch_size=16, lr=task.training.lr, momentum=task.training.momentum)
    settings = OrganizationSettings(task=task_name, quorum=2, target=2, deadline_blocks=50, plan=plan)
    organization = Organization(contract, store, settings, test, log=lambda _: None)
    driver = RoundDriver(organization)
    driver.step()  # opens round 1
    for index in (1, 2):
        account = dev_account(index)
        client = Client(contract.with_account(account), store, train.subset(np.arange(index - 1, len(train), 2)),
                        ClientState(tmp_path / account.address), ClientSettings(task=task_name), log=lambda _: None)
        client.ensure_registered()
        assert client.participate(1).entry is not None
    outcome = driver.finish(1)  # waits out the collection window, then closes
    assert str(outcome.state) == "finalized", outcome.reason
    assert outcome.accepted == [True, True] and 0.0 <= outcome.accuracy <= 1.0
    check = verify_round(contract, store, 1)
    assert check.ok, check.message


def test_verification_needs_no_task_code() -> None:
    """verify decodes and recomputes by the published tensor spec: neither torch nor any task loads."""
    probe = ("import sys, protocol.verification, protocol.artifacts; "
             "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('tasks.')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "[]"
