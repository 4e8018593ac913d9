"""An organization and three clients sharing one in-process chain and one embedded store."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from chain.accounts import dev_account
from chain.backends import Chain, EmbeddedChain
from chain.deployments import DeploymentBook
from chain.migrate import deploy
from client.service import Client, ClientSettings
from client.state import ClientState
from mlprocessor.data import Dataset
from mlprocessor.partition import partition
from organization.service import Organization, OrganizationSettings
from protocol.plan import TrainingPlan
from storage.embedded import EmbeddedStore
from tasks.mnist import load_mnist

CLIENT_EXAMPLES = 300


@cache
def small_data() -> tuple[Dataset, Dataset]:
    """A few hundred training examples per client and 500 test examples: rounds take a second."""
    train, test = load_mnist()
    return train, test.subset(np.arange(0, len(test), 2))


@dataclass
class Federation:
    chain: Chain
    store: EmbeddedStore
    organization: Organization
    clients: list[Client]


def build_federation(home: Path, *, quorum: int = 3, target: int = 3, deadline_blocks: int = 50,
                     client_settings: ClientSettings | None = None, plan: TrainingPlan | None = None,
                     window_blocks: int = 0, chain: Chain | None = None) -> Federation:
    """Rounds without a collection window by default: tests close as soon as the updates are in;
    the in-process EVM unless another `chain` is given."""
    chain = chain or EmbeddedChain()
    store = EmbeddedStore(home / "ipfs")
    contract = deploy(chain, dev_account(0), DeploymentBook(None), log=lambda _: None)
    train, test = small_data()
    settings = OrganizationSettings(task="2nn", quorum=quorum, target=target, deadline_blocks=deadline_blocks,
                                    window_blocks=window_blocks,
                                    plan=plan or TrainingPlan(epochs=2, batch_size=10, lr=0.1))
    organization = Organization(contract, store, settings, test, log=lambda _: None)
    parts = partition(train.y, 3, "iid", seed=0)
    clients = []
    for index, part in enumerate(parts, start=1):
        account = dev_account(index)
        spread = part[:: max(1, len(part) // CLIENT_EXAMPLES)][:CLIENT_EXAMPLES]  # the data is sorted by label
        client = Client(contract.with_account(account), store, train.subset(spread),
                        ClientState(home / "clients" / account.address), client_settings or ClientSettings(),
                        log=lambda _: None)
        client.ensure_registered()
        clients.append(client)
    return Federation(chain, store, organization, clients)


@pytest.fixture
def federation(tmp_path: Path) -> Federation:
    return build_federation(tmp_path)
