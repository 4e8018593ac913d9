"""One secure round with the organization and its clients in one process: the driver of the demo and benchmarks.

The phases advance by block number; on a development chain the driver mines empty blocks to
reach a deadline instead of waiting for it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from chain.contract import FederatedLearningContract
from chain.transactions import TxResult
from client.secure import SecureParticipant, SecureStep, SecureSubmission
from organization.driver import RoundDriver
from organization.service import RoundOutcome
from protocol.engine import Act


@dataclass
class LocalSecureRound:
    round_id: int
    opened: TxResult
    outcome: RoundOutcome
    joins: list[SecureStep] = field(default_factory=list)
    shares: list[SecureStep] = field(default_factory=list)
    submissions: list[SecureSubmission] = field(default_factory=list)
    reveals: list[SecureStep] = field(default_factory=list)
    phase_seconds: dict[str, float] = field(default_factory=dict)


class _PhaseClock:
    """Wall-clock seconds of each protocol phase (open, join, share, submit, review, reveal, close), in order."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = round(now - self._last, 4)
        self._last = now


def advance_past(contract: FederatedLearningContract, block: int) -> None:
    """Wait until the chain is past `block`; a development chain mines empty blocks to get there."""
    while (current := contract.block_number()) <= block:
        contract.chain.tick()
        if contract.block_number() == current:  # a real network: its blocks come on their own
            time.sleep(1.0)


def run_local_secure_round(driver: RoundDriver, participants: Sequence[SecureParticipant],
                           pool: ThreadPoolExecutor) -> LocalSecureRound:
    """Open, let every participant join and post shares, train and submit (those with `drop_out` do
    not), review (the organization), reveal, close."""
    clock = _PhaseClock()
    rounds = driver.secure_rounds()
    contract = rounds.contract
    round_id, opened = rounds.open_round()
    deadlines = contract.secure_round(round_id).deadlines
    clock.lap("open")
    joins = [participant.join(round_id) for participant in participants]
    advance_past(contract, deadlines.join)
    clock.lap("join")
    shares = [participant.share(round_id) for participant in participants]
    if not contract.secure_round(round_id).shares_over(contract.block_number()):
        advance_past(contract, deadlines.share)
    clock.lap("share")
    active = [p for p in participants if not p.drop_out]
    submissions = list(pool.map(lambda participant: participant.submit(round_id), active))
    if contract.round(round_id).submissions < contract.secure_round(round_id).shared:
        advance_past(contract, deadlines.submit)
    clock.lap("submit")
    view, decision = driver.decide()
    if decision.act is Act.REVIEW:
        driver.execute(view, decision)
    if not contract.secure_round(round_id).review_over(contract.block_number()):
        advance_past(contract, deadlines.review)  # a review postponed by an outage (or an abort due) ends there
    clock.lap("review")
    reveals = [participant.step(round_id) for participant in active]
    clock.lap("reveal")
    outcome = _close_if_due(driver)
    if outcome is None:
        advance_past(contract, deadlines.reveal)
        outcome = _close_if_due(driver)
    assert outcome is not None
    clock.lap("close")
    return LocalSecureRound(round_id, opened, outcome, joins, shares, submissions, reveals, clock.seconds)


def _close_if_due(driver: RoundDriver) -> RoundOutcome | None:
    """Close or abort the round if the engine says so now; None while it must wait."""
    view, decision = driver.decide()
    return driver.execute(view, decision) if decision.act in (Act.CLOSE, Act.ABORT) else None
