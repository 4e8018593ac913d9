"""Section 5, gas: each transaction type with 1, 10, 100 and 1,000 registered clients, and a whole
round (open + one submission per participant + close submissions + finalize), on the embedded EVM."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from aleph_cid import compute_cid

from bench.report import table
from bench.settings import SuiteSettings
from chain.accounts import derived_account, dev_account
from chain.backends import EmbeddedChain
from chain.contract import FederatedLearningContract
from chain.deployments import DeploymentBook
from chain.migrate import deploy
from storage.cid import Cid

PARTICIPANTS = 10  # submissions in the measured round (fewer when fewer are registered)
MAX_SAMPLES = 1_000


class _Cids:
    """A distinct valid CID per call."""

    def __init__(self) -> None:
        self._counter = itertools.count()

    def __call__(self) -> Cid:
        return Cid.parse(compute_cid(f"gas bench {next(self._counter)}".encode()))


def _round(organization: FederatedLearningContract, participants: list[FederatedLearningContract],
           cids: _Cids) -> dict[str, Any]:
    round_id, opened = organization.open_round(cids(), organization.block_number() + 1000, len(participants),
                                               MAX_SAMPLES)
    submissions = [client.submit_update(round_id, cids(), 500).gas_used for client in participants]
    digest = organization.recorded_digest(round_id)  # what an organization that read every submission names
    closed = organization.close_submissions(round_id, digest).gas_used
    finalized = organization.finalize_round(round_id, cids(), [True] * len(participants), digest).gas_used
    return {"round": round_id, "openRound": opened.gas_used, "submitUpdate": submissions,
            "closeSubmissions": closed, "finalizeRound": finalized,
            "total": opened.gas_used + sum(submissions) + closed + finalized}


def run(settings: SuiteSettings) -> dict[str, Any]:
    accounts = [derived_account("bench gas", index) for index in range(max(settings.gas_registered))]
    organization = deploy(EmbeddedChain(accounts), dev_account(0), DeploymentBook(None), log=lambda _: None)
    clients = [organization.with_account(account) for account in accounts]
    cids, registered, levels = _Cids(), 0, []
    for level in settings.gas_registered:
        register_gas = [client.register().gas_used for client in clients[registered:level]]
        registered = level
        participants = clients[max(0, level - PARTICIPANTS):level]
        levels.append({"registered": level, "register_last": register_gas[-1],
                       **_round(organization, participants, cids)})
    return {"levels": levels}


def gas_spread(data: dict[str, Any]) -> float:
    """The largest relative spread of one transaction type's gas across the levels."""
    per_type = [
        [lvl["register_last"] for lvl in data["levels"]],
        [lvl["openRound"] for lvl in data["levels"]],
        [g for lvl in data["levels"] for g in lvl["submitUpdate"]],
        [lvl["closeSubmissions"] for lvl in data["levels"]],
        [lvl["finalizeRound"] for lvl in data["levels"]],
    ]
    return max(max(values) / min(values) - 1 for values in per_type)


def headline(data: dict[str, Any]) -> list[list[str]]:
    last = data["levels"][-1]
    spread = gas_spread(data)
    return [[f"Gas: register / openRound / submitUpdate / closeSubmissions / finalizeRound at "
             f"{last['registered']:,} clients",
             f"{last['register_last']:,} / {last['openRound']:,} / {last['submitUpdate'][-1]:,} / "
             f"{last['closeSubmissions']:,} / {last['finalizeRound']:,}",
             f"flat within 1% from 1 client: {'met' if spread <= 0.01 else '**missed**'} ({100 * spread:.2f}%)"],
            [f"Gas per round with {len(last['submitUpdate'])} submissions", f"{last['total']:,}", ""]]


def render(data: dict[str, Any], figures: Path, mode: str) -> str:
    rows = [[lvl["registered"], lvl["register_last"], lvl["openRound"], lvl["submitUpdate"][0],
             lvl["submitUpdate"][-1], lvl["closeSubmissions"], lvl["finalizeRound"], len(lvl["submitUpdate"]),
             lvl["total"]]
            for lvl in data["levels"]]
    spread = gas_spread(data)
    flat = "flat" if spread <= 0.01 else "**not flat**"
    return ("Gas used as reported by the receipts, one contract, clients registered cumulatively; the round at "
            "each level is round 1, 2, 3, ... of the same contract, submitted to by the most recently registered "
            f"clients. Per-transaction gas is {flat} from 1 to {data['levels'][-1]['registered']:,} registered "
            f"clients: the largest spread of one transaction type is {100 * spread:.2f}% (target: within 1%).\n\n"
            + table(["registered clients", "register (last)", "openRound", "submitUpdate (1st of round)",
                     "submitUpdate (last of round)", "closeSubmissions", "finalizeRound", "submissions",
                     "gas per round"], rows))
