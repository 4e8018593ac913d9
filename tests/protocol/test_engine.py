"""The round engine's transitions, table-driven: every phase of both round kinds, for the
organization and for a participant. A decision depends only on the chain's view, so a party
restarted in any phase decides exactly as before; the last tests drive real rounds with a fresh
driver at every step to show it."""

from __future__ import annotations

from pathlib import Path

import pytest

from chain.contract import EMPTY_SUBMISSIONS_DIGEST, RoundInfo, RoundKind, RoundState, SecureDeadlines, SecurePhases
from chain.contract import ParticipantStatus as P
from client.driver import ParticipantDriver
from organization.driver import RoundDriver
from protocol.engine import Act, RoundView, organization_decision, participant_decision
from tests.protocol.conftest import build_federation

JOIN, SHARE, SUBMIT, REVIEW, REVEAL = 10, 15, 20, 25, 30


def plain(block: int, submissions: int = 0, quorum: int = 2, deadline: int = 50, closed: bool = False,
          state: RoundState = RoundState.OPEN, window: int = 0) -> RoundView:
    info = RoundInfo(1, state, None, None, deadline, quorum, submissions, 0, 100, closed, 0, RoundKind.PLAIN,
                     window, EMPTY_SUBMISSIONS_DIGEST)
    return RoundView(info, block, None)


def secure(block: int, joined: int = 0, submissions: int = 0, revealed: int = 0, quorum: int = 3,
           shared: int | None = None, threshold: int = 0, excluded: int = 0, reviewed: bool = False) -> RoundView:
    """`reviewed`: the organization ended the review (it is over anyway after block REVIEW)."""
    info = RoundInfo(1, RoundState.OPEN, None, None, 0, quorum, submissions, 0, 100, False, 0, RoundKind.SECURE, 0,
                     EMPTY_SUBMISSIONS_DIGEST)
    phases = SecurePhases(SecureDeadlines(JOIN, SHARE, SUBMIT, REVIEW, REVEAL), joined,
                          joined if shared is None else shared, revealed, threshold, excluded, reviewed)
    return RoundView(info, block, phases)


@pytest.mark.parametrize(("view", "target", "act", "reason"), [
    (None, 3, Act.OPEN, ""),
    (plain(5, state=RoundState.FINALIZED), 3, Act.OPEN, ""),
    (plain(5, state=RoundState.ABORTED), 3, Act.OPEN, ""),
    (plain(5, submissions=1), 3, Act.SCREEN, "1 of 3 updates"),
    (plain(5, submissions=3), 3, Act.CLOSE, ""),  # the target closes early
    (plain(5, submissions=3, window=8), 3, Act.SCREEN, "collection window runs until block 8"),  # not this early
    (plain(8, submissions=3, window=8), 3, Act.CLOSE, ""),  # the window is over
    (plain(51, submissions=2, window=80), 3, Act.CLOSE, ""),  # the deadline ends a window reaching past it
    (plain(51, submissions=2), 3, Act.CLOSE, ""),  # the deadline passed with the quorum
    (plain(51, submissions=1), 3, Act.ABORT, "1 of 2 required updates"),
    (plain(50, submissions=1), 3, Act.SCREEN, ""),  # the deadline block itself still collects
    (plain(5, submissions=2, closed=True), 3, Act.CLOSE, ""),  # frozen before a restart: finish it
    (secure(5, joined=2), 3, Act.WAIT, "join phase until block 10"),
    (secure(11, joined=2), 3, Act.ABORT, "2 joined, fewer than 3"),
    (secure(11, joined=6, shared=5, threshold=5), 3, Act.WAIT, "share phase until block 15 (5 of 6 posted)"),
    (secure(11, joined=6, threshold=5), 3, Act.WAIT, "submission phase until block 20"),  # all posted: it ends early
    (secure(16, joined=6, shared=4, threshold=5), 3, Act.ABORT, "4 posted shares, fewer than 5"),
    (secure(16, joined=4, submissions=4), 3, Act.REVIEW, "until block 25"),  # everyone submitted: review at once
    (secure(16, joined=4, submissions=4, reviewed=True), 3, Act.WAIT, "reveal phase"),
    (secure(16, joined=4, submissions=4, revealed=3, reviewed=True), 3, Act.WAIT, "reveal phase"),  # a 4th may come
    (secure(16, joined=4, submissions=4, revealed=4, reviewed=True), 3, Act.CLOSE, ""),
    (secure(17, joined=4, submissions=3), 3, Act.WAIT, "submission phase until block 20"),
    (secure(21, joined=4, submissions=2), 3, Act.ABORT, "2 masked updates, fewer than 3"),
    (secure(21, joined=4, submissions=3), 3, Act.REVIEW, "review of 3 masked updates until block 25"),
    (secure(25, joined=4, submissions=3, excluded=1), 3, Act.ABORT, "2 masked updates (1 excluded), fewer than 3"),
    (secure(21, joined=5, submissions=5, excluded=1), 3, Act.REVIEW, ""),  # 4 kept: the review goes on
    (secure(21, joined=5, submissions=5, excluded=1, revealed=4, reviewed=True), 3, Act.CLOSE, ""),  # all kept
    (secure(21, joined=5, submissions=5, excluded=1, revealed=3, reviewed=True), 3, Act.WAIT, "3 of 4 revealed"),
    (secure(26, joined=4, submissions=3, revealed=2), 3, Act.WAIT, "reveal phase until block 30"),  # review over
    (secure(26, joined=4, submissions=3, revealed=3), 3, Act.CLOSE, ""),
    (secure(31, joined=5, submissions=5, revealed=3), 3, Act.CLOSE, ""),  # n - t silent survivors
    (secure(31, joined=5, submissions=4, revealed=2), 3, Act.ABORT, "2 survivors revealed their shares, fewer"),
])
def test_the_organization_decides_from_the_view(view, target, act, reason) -> None:
    decision = organization_decision(view, target)
    assert decision.act is act
    assert reason in decision.reason


@pytest.mark.parametrize(("view", "status", "answered", "drop_out", "act"), [
    (None, P.NONE, False, False, Act.WAIT),
    (plain(5, state=RoundState.FINALIZED), P.NONE, False, False, Act.WAIT),
    (plain(5), P.NONE, False, False, Act.TRAIN),
    (plain(5), P.NONE, True, False, Act.DONE),  # restarted after submitting: never twice
    (plain(50), P.NONE, False, False, Act.DONE),  # a submission now would land after the deadline
    (plain(5, closed=True), P.NONE, False, False, Act.DONE),
    (secure(5), P.NONE, False, False, Act.JOIN),
    (secure(11), P.NONE, False, False, Act.DONE),  # too late to join
    (secure(5), P.JOINED, False, False, Act.PREPARE),  # trains while the participant set forms
    (secure(5), P.JOINED, False, True, Act.WAIT),  # the demo's dropout never trains
    (secure(11, joined=4, shared=3), P.JOINED, False, False, Act.SHARE),
    (secure(16, joined=4), P.JOINED, False, False, Act.DONE),  # missed the share phase
    (secure(12, joined=4, shared=3), P.SHARED, False, False, Act.PREPARE),  # not trained yet: trains while it waits
    (secure(12, joined=4), P.SHARED, False, False, Act.TRAIN),  # everyone who joined posted: the masking set is fixed
    (secure(16, joined=4), P.SHARED, False, False, Act.TRAIN),
    (secure(16, joined=4), P.SHARED, False, True, Act.DONE),  # the demo's dropout
    (secure(21, joined=4), P.SHARED, False, False, Act.DONE),  # missed the submission phase
    (secure(17, joined=4, submissions=3), P.SUBMITTED, False, False, Act.WAIT),
    (secure(17, joined=4, submissions=4), P.SUBMITTED, False, False, Act.WAIT),  # everyone submitted: the review
    (secure(21, joined=4, submissions=3), P.SUBMITTED, False, False, Act.WAIT),  # the review until block 25
    (secure(17, joined=4, submissions=4, reviewed=True), P.SUBMITTED, False, False, Act.REVEAL),  # review ended
    (secure(26, joined=4, submissions=3), P.SUBMITTED, False, False, Act.REVEAL),  # the review deadline passed
    (secure(31, joined=4, submissions=3), P.SUBMITTED, False, False, Act.DONE),
    (secure(26, joined=4, submissions=3, excluded=1), P.EXCLUDED, False, False, Act.DONE),  # reveals nothing
    (secure(25, joined=4, submissions=3, revealed=1), P.REVEALED, False, False, Act.DONE),
])
def test_a_participant_decides_from_the_view(view, status, answered, drop_out, act) -> None:
    assert participant_decision(view, status, answered, drop_out).act is act


@pytest.mark.parametrize(("view", "status", "act"), [
    (secure(5), P.JOINED, Act.WAIT),  # the participant set is not fixed yet
    (secure(12, joined=4, shared=3), P.SHARED, Act.WAIT),  # the masking set is not fixed yet
    (secure(12, joined=4), P.SHARED, Act.TRAIN),  # all four posted: the masking set is fixed before the deadline
    (secure(16, joined=4), P.SHARED, Act.TRAIN),  # masks and submits what it trained
    (secure(21, joined=4), P.SHARED, Act.DONE),  # missed the submission phase all the same
])
def test_a_prepared_participant_waits_for_the_masking_set_then_submits(view, status, act) -> None:
    assert participant_decision(view, status, answered=False, prepared=True).act is act


def test_a_plain_round_run_by_fresh_drivers_at_every_step_finalizes_once(tmp_path: Path) -> None:
    """Organization and clients restarted before every single step: one round, each update once."""
    federation = build_federation(tmp_path, quorum=2, target=3, deadline_blocks=20)
    outcomes = []
    for _ in range(6):
        outcome = RoundDriver(federation.organization).step()
        if outcome is not None:
            outcomes.append(outcome)
            break
        for client in federation.clients:
            ParticipantDriver(client).execute(*ParticipantDriver(client).decide())
    (outcome,) = outcomes
    assert str(outcome.state) == "finalized" and outcome.accepted == [True, True, True]
    assert federation.organization.contract.round_count() == 1
    for client in federation.clients:  # a restarted client finds nothing left to answer
        assert ParticipantDriver(client).decide()[1].act is Act.WAIT
