"""A secure federation on an Anvil node (a contract of its own) and the embedded store, shared by the
secure-round tests."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from chain.accounts import dev_account
from chain.backends import Chain
from chain.contract import SecureDeadlines
from chain.deployments import DeploymentBook
from chain.migrate import deploy
from client.secure import SecureParticipant
from client.service import Client, ClientSettings
from client.state import ClientState
from mlprocessor.partition import partition
from organization.driver import RoundDriver
from organization.secure import SecureSettings
from organization.secure_local import advance_past
from organization.service import Organization, OrganizationSettings
from protocol.plan import TrainingPlan
from storage.embedded import EmbeddedStore
from storage.store import ContentStore
from tests.protocol.conftest import small_data

CLIENTS = 5
EXAMPLES = 100


@dataclass
class SecureFederation:
    chain: Chain
    store: ContentStore
    organization: Organization
    driver: RoundDriver
    participants: list[SecureParticipant]
    log: list[str]


def build(home: Path, chain: Chain, clients: int = CLIENTS, store: ContentStore | None = None) -> SecureFederation:
    """Everyone on one chain, with a contract of their own, and one store (the embedded one unless
    `store` is given)."""
    store = store or EmbeddedStore(home / "ipfs")
    contract = deploy(chain, dev_account(0), DeploymentBook(None), log=lambda _: None)
    train, test = small_data()
    log: list[str] = []
    settings = OrganizationSettings(task="2nn", quorum=3, target=clients,
                                    plan=TrainingPlan(epochs=1, batch_size=10, lr=0.1))
    organization = Organization(contract, store, settings, test, log=log.append)
    participants = []
    for index, part in enumerate(partition(train.y, clients, "iid", seed=0), start=1):
        account = dev_account(index)
        client = Client(contract.with_account(account), store, train.subset(part[::len(part) // EXAMPLES][:EXAMPLES]),
                        ClientState(home / "clients" / account.address), ClientSettings(), log=log.append)
        client.ensure_registered()
        participants.append(SecureParticipant(client))
    return SecureFederation(chain, store, organization, RoundDriver(organization, SecureSettings(phase_blocks=12)),
                            participants, log)


def open_and_share(federation: SecureFederation) -> tuple[int, SecureDeadlines]:
    """A secure round that every participant joined and posted shares to, its share phase over."""
    contract = federation.organization.contract
    round_id, _ = federation.driver.secure_rounds().open_round()
    deadlines = contract.secure_round(round_id).deadlines
    for participant in federation.participants:
        participant.join(round_id)
    advance_past(contract, deadlines.join)
    for participant in federation.participants:
        participant.share(round_id)
    advance_past(contract, deadlines.share)
    return round_id, deadlines


def review(federation: SecureFederation) -> None:
    """The organization's review of the submitted masked files; it ends the review (nothing postponed)."""
    assert federation.driver.step() is None
    assert federation.organization.contract.secure_round(
        federation.organization.contract.round_count()).review_ended


@pytest.fixture
def federation(tmp_path: Path, anvil: Chain) -> SecureFederation:
    return build(tmp_path, anvil)


@pytest.fixture
def pool():
    with ThreadPoolExecutor(max_workers=2) as executor:
        yield executor
