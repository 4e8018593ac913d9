"""`--secure-aggregation` for `demo`, `organization` and `client`: options, checks and the demo's secure round."""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cli.round_summary import outcome_record
from client.secure import SecureParticipant
from client.service import Client
from organization.driver import RoundDriver
from organization.secure import MIN_PARTICIPANTS, SecureSettings, refuse_unmaskable_settings
from organization.secure_local import run_local_secure_round
from organization.service import Organization, OrganizationSettings
from protocol.errors import UserError
from protocol.secure.public_round import round_gas
from protocol.timing import PhaseTimer

# Options that need the organization to see individual updates, with the value that leaves them off.
_PER_UPDATE_OPTIONS: dict[str, Any] = {"fedcurv_lambda": 0.0}


def add_secure_options(parser: argparse.ArgumentParser, role: str) -> None:
    parser.add_argument("--secure-aggregation", action="store_true",
                        help="masked rounds: nobody, the organization included, sees an individual update, and "
                             "anyone can still verify the result (FedAvg/FedProx only)")
    if role in ("organization", "demo"):
        parser.add_argument("--phase-blocks", type=int, default=None,
                            help="secure rounds: blocks each phase (join, share, submit, reveal) lasts; the "
                                 "review twice as long, ended by the organization once it fetched every masked "
                                 "update (default: 20, the demo: enough for every client)")
        parser.add_argument("--threshold", type=int, default=0,
                            help="secure rounds: reveals needed to unmask (Shamir t; also the size of a coalition "
                                 "that could unmask one update); default 0: a majority of those who join")
    if role == "demo":
        parser.add_argument("--dropouts", type=int, default=0,
                            help="secure rounds: this many clients join and never submit")


def check_secure_arguments(args: argparse.Namespace) -> None:
    """Refuse what masking makes impossible, with the reason, before anything runs."""
    if getattr(args, "dropouts", 0) and not args.secure_aggregation:
        raise UserError("--dropouts needs --secure-aggregation")
    if not args.secure_aggregation:
        return
    asked = [name for name, off in _PER_UPDATE_OPTIONS.items() if getattr(args, name, off) != off]
    if getattr(args, "strategy", "fedavg") not in ("fedavg", "fedprox"):
        raise UserError(f"--strategy {args.strategy} needs to see individual updates, which secure aggregation "
                        "hides from everyone; use fedavg or fedprox with --secure-aggregation")
    if asked:
        names = ", ".join("--" + name.replace("_", "-") for name in asked)
        raise UserError(f"{names} need(s) to see individual updates (per-update validation, Fisher sections), "
                        "which secure aggregation hides from everyone; drop them or --secure-aggregation")
    if getattr(args, "attackers", 0):
        raise UserError("--attackers: the simulated attacks act on plain updates; they are not available with "
                        "--secure-aggregation (which does not protect the sum against poisoning either)")
    if getattr(args, "encoding", "float32") != "float32":
        raise UserError("--encoding: masked updates are 64-bit ring elements and cannot be compressed")
    clients, dropouts = getattr(args, "clients", None), getattr(args, "dropouts", 0)
    if clients is not None and not 0 <= dropouts <= clients - 3:
        raise UserError(f"--secure-aggregation needs at least 3 clients that submit: {clients} clients with "
                        f"{dropouts} dropouts leave {clients - dropouts}")


def secure_settings_of(settings: OrganizationSettings, phase_blocks: int | None, quorum: int = 3,
                       threshold: int = 0) -> SecureSettings:
    """The secure-round settings the options ask for, or UserError when they cannot run masked."""
    try:
        refuse_unmaskable_settings(settings, validation_asked=False)
        return SecureSettings(phase_blocks or SecureSettings.phase_blocks, max(MIN_PARTICIPANTS, quorum), threshold)
    except ValueError as error:
        raise UserError(str(error)) from None


def secure_driver_of(organization: Organization, phase_blocks: int | None, quorum: int = 3,
                     threshold: int = 0) -> RoundDriver:
    """The round driver in secure mode, or UserError when the settings cannot run masked."""
    return RoundDriver(organization, secure_settings_of(organization.settings, phase_blocks, quorum, threshold))


class SecureDemo:
    """The demo's secure rounds: every client joins, the last `dropouts` never submit."""

    def __init__(self, organization: Organization, clients: list[Client], args: argparse.Namespace,
                 workers: int) -> None:
        # a phase must leave room for one transaction per client (one block each on a development chain)
        self.driver = secure_driver_of(organization, args.phase_blocks or 2 * len(clients) + 10,
                                       len(clients) - args.dropouts, args.threshold)
        first_dropout = len(clients) - args.dropouts
        self.participants = [SecureParticipant(client, drop_out=index >= first_dropout)
                             for index, client in enumerate(clients)]
        self.pool = ThreadPoolExecutor(max_workers=workers)  # clients train in threads, masking included

    def run_round(self) -> dict[str, Any]:
        """One secure round, summarised like a plain one, with its secure figures."""
        started = time.perf_counter()
        local = run_local_secure_round(self.driver, self.participants, self.pool)
        outcome, timer = local.outcome, PhaseTimer()
        for submission in local.submissions:
            timer.merge(submission.participation.timer)
        timer.merge(outcome.timer)
        return {
            **outcome_record(local.round_id, outcome, timer, time.perf_counter() - started),
            "secure": True, "joined": len(local.joins), "dropped": sum(p.drop_out for p in self.participants),
            "update_cids": [s.step.detail for s in local.submissions if s.step.action == "submitted"],
            "update_bytes": [s.update_bytes for s in local.submissions],
            "reveals": [step.detail for step in local.reveals if step.action == "revealed"],
            "tx_hashes": {"open": local.opened.tx_hash, "close": outcome.tx_hash},
            "gas_used": round_gas(self.driver.organization.contract, local.round_id),
            "phase_seconds": local.phase_seconds,
            "skipped": [s.participation.skipped for s in local.submissions if s.participation.skipped],
        }
