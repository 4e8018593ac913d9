"""An organization and its clients in this process, on the embedded chain and store, whose
clients' data the caller may swap between rounds (the demo cannot: its data is fixed)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from chain.accounts import derived_account, dev_account
from chain.backends import EmbeddedChain
from chain.deployments import DeploymentBook
from chain.migrate import deploy
from client.service import Client, ClientSettings
from client.state import ClientState
from mlprocessor.data import Dataset
from mlprocessor.models import StateDict
from organization.service import Organization, OrganizationSettings
from storage.embedded import EmbeddedStore

FUNDING_ETHER = 1


def _silent(_: str) -> None:
    """The services' log lines are not part of a benchmark's output."""


@dataclass
class Federation:
    organization: Organization
    clients: list[Client]

    def run_round(self, pool: ThreadPoolExecutor) -> StateDict:
        """One full protocol round with every client; returns the finalized model's tensors."""
        round_id, _ = self.organization.open_round()
        for participation in pool.map(lambda client: client.participate(round_id), self.clients):
            if participation.skipped:
                raise RuntimeError(f"a client skipped round {round_id}: {participation.skipped}")
        outcome = self.organization.close_round(round_id)
        if outcome.result_cid is None:
            raise RuntimeError(f"round {round_id} was {outcome.state}: {outcome.rejections}")
        return self.organization.fetch_model(outcome.result_cid).tensors


def build_federation(home: Path, settings: OrganizationSettings, client_data: Sequence[Dataset],
                     client_settings: ClientSettings) -> Federation:
    """Deploy a fresh contract and register one funded client per dataset."""
    contract = deploy(EmbeddedChain(), dev_account(0), DeploymentBook(None), log=_silent)
    store = EmbeddedStore(home / "ipfs")
    clients = []
    for index, data in enumerate(client_data):
        account = derived_account("bench client", index)
        contract.fund(account.address, FUNDING_ETHER)
        client = Client(contract.with_account(account), store, data, ClientState(home / "clients" / account.address),
                        client_settings, log=_silent)
        client.ensure_registered()
        clients.append(client)
    return Federation(Organization(contract, store, settings, None, log=_silent), clients)
