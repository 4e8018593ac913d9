"""A federation with hostile members: honest dev-account clients, attackers beside them, any store.

Small on purpose (a few hundred examples per client, 2NN, one epoch) so each row of issue 11's
table is a test of a few seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chain.accounts import dev_account
from chain.backends import EmbeddedChain
from chain.deployments import DeploymentBook
from chain.migrate import deploy
from client.adversary import Adversary
from client.service import Client, ClientSettings
from client.state import ClientState
from mlprocessor.partition import partition
from mlprocessor.validation import ValidationConfig
from organization.service import Organization, OrganizationSettings, RoundOutcome
from protocol.plan import StrategySpec, TrainingPlan
from storage.embedded import EmbeddedStore
from storage.store import ContentStore
from tests.protocol.conftest import CLIENT_EXAMPLES, small_data

ONE_EPOCH = TrainingPlan(epochs=1, batch_size=10, lr=0.1)


@dataclass
class Hostile:
    chain: EmbeddedChain
    store: ContentStore
    organization: Organization
    honest: list[Client]
    attackers: list[Adversary] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # what the services logged

    def round(self, *, attackers_first: bool = False) -> tuple[int, RoundOutcome]:
        """Open a round, let everyone take part (honest first unless asked), close it."""
        members = [*self.attackers, *self.honest] if attackers_first else [*self.honest, *self.attackers]
        round_id = self.answered_round(members)
        return round_id, self.organization.close_round(round_id)

    def answered_round(self, members: Sequence[Client | Adversary]) -> int:
        """Open a round and let `members` answer it, in that order; the round stays open."""
        round_id, _ = self.organization.open_round()
        for member in members:
            member.participate(round_id)
        return round_id


def hostile_federation(home: Path, attack: str | None = None, *, attackers: int = 1, honest: int = 3,
                       quorum: int | None = None, strategy: StrategySpec | None = None,
                       plan: TrainingPlan = ONE_EPOCH, store: ContentStore | None = None,
                       fetch_seconds: float = 20.0, client_settings: ClientSettings | None = None,
                       root_data: Path | None = None, validation: ValidationConfig | None = None) -> Hostile:
    chain = EmbeddedChain()
    store = store or EmbeddedStore(home / "ipfs")
    contract = deploy(chain, dev_account(0), DeploymentBook(None), log=lambda _: None)
    lines: list[str] = []
    train, test = small_data()
    settings = OrganizationSettings(task="2nn", quorum=quorum or honest, target=honest + attackers,
                                    deadline_blocks=200, plan=plan, strategy=strategy or StrategySpec(),
                                    fetch_seconds=fetch_seconds, window_blocks=0,  # tests close at once
                                    root_data=str(root_data) if root_data else None, validation=validation)
    organization = Organization(contract, store, settings, test, log=lines.append)
    total = honest + (attackers if attack else 0)
    parts = partition(train.y, total, "iid", seed=0)
    members = []
    for index, part in enumerate(parts, start=1):
        account = dev_account(index)
        spread = part[:: max(1, len(part) // CLIENT_EXAMPLES)][:CLIENT_EXAMPLES]
        client = Client(contract.with_account(account), store, train.subset(spread),
                        ClientState(home / "clients" / account.address), client_settings or ClientSettings(),
                        log=lines.append)
        client.ensure_registered()
        members.append(client)
    adversaries = [Adversary(client, attack, log=lines.append) for client in members[honest:]] if attack else []
    return Hostile(chain, store, organization, members[:honest], adversaries, lines)
