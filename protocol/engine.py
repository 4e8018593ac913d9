"""The round engine: what a party does next, as a pure function of what the chain says.

Every driver (the headless services, the web nodes, the demo) reads one `RoundView` of the latest
round and asks `organization_decision` or `participant_decision` what to do; the functions mirror
the contract's own checks, so a party never sends a transaction the contract must refuse, and a
restarted party decides exactly as it would have before (nothing here depends on memory).

Plain rounds: open, collect until the target (once the round's collection window is over) or
the deadline, close (screen, aggregate, finalize) or abort under the quorum. Secure rounds: join
until the join deadline, post share bundles until the share deadline (or until everyone who joined
posted), submit masked updates until the submission deadline (or until everyone submitted), let the
organization review the masked files (it excludes the missing, oversized or malformed ones, then
ends the review), reveal shares once the review is over until the reveal deadline, then unmask and
finalize with at least the threshold of reveals, or abort naming the phase that fell short.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from chain.contract import FederatedLearningContract, ParticipantStatus, RoundInfo, RoundState, SecurePhases


class Act(StrEnum):
    # the organization
    OPEN = "open"  # open the next round
    SCREEN = "screen"  # screen what landed while the round collects
    REVIEW = "review"  # secure: fetch every masked file, exclude the unusable ones, end the review
    CLOSE = "close"  # plain: freeze, screen, aggregate, finalize; secure: unmask and finalize
    ABORT = "abort"
    # a participant
    JOIN = "join"  # secure: join the participant set
    SHARE = "share"  # secure: post the masking key and the encrypted share bundle
    PREPARE = "prepare"  # secure: train while the masking set forms, so the submission phase only masks
    TRAIN = "train"  # train (unless prepared) and submit (plain update or masked update)
    REVEAL = "reveal"  # secure: reveal one kind of share for every other participant
    # both
    WAIT = "wait"  # nothing to do until the chain moves
    DONE = "done"  # nothing more to do in this round


@dataclass(frozen=True)
class Decision:
    act: Act
    reason: str = ""


@dataclass(frozen=True)
class RoundView:
    """The latest round as the chain states it at `block`; `phases` is None for a plain round."""

    info: RoundInfo
    block: int
    phases: SecurePhases | None

    @property
    def secure(self) -> bool:
        return self.phases is not None

    @property
    def open(self) -> bool:
        return self.info.state is RoundState.OPEN


def read_view(contract: FederatedLearningContract) -> RoundView | None:
    """One look at the latest round; None before the first round."""
    count = contract.round_count()
    if count == 0:
        return None
    return RoundView(contract.round(count), contract.block_number(), contract.secure_round(count))


def organization_decision(view: RoundView | None, target: int) -> Decision:
    """The organization's next act; `target` is how many updates close a plain round early."""
    if view is None or not view.open:
        return Decision(Act.OPEN)
    if view.phases is None:
        return _plain_organization(view, target)
    return _secure_organization(view, view.phases)


def _plain_organization(view: RoundView, target: int) -> Decision:
    """Collect until the target (once the collection window is over) or the deadline, as the
    contract's closeSubmissions allows; the close lands in a later block than `view.block`."""
    info = view.info
    collecting = not (view.block > info.deadline or info.submissions_closed)
    if collecting and info.submissions < target:
        return Decision(Act.SCREEN, f"{info.submissions} of {target} updates, deadline block {info.deadline}")
    if collecting and view.block < info.closable_at:
        return Decision(Act.SCREEN, f"{info.submissions} of {target} updates; the collection window runs until "
                                    f"block {info.closable_at}, so honest clients can still answer")
    if info.submissions < info.quorum:
        return Decision(Act.ABORT, f"{info.submissions} of {info.quorum} required updates")
    return Decision(Act.CLOSE)


def _secure_organization(view: RoundView, phases: SecurePhases) -> Decision:
    info, deadlines, block = view.info, phases.deadlines, view.block
    threshold = phases.threshold
    needed = max(info.quorum, threshold)
    if block <= deadlines.join:
        return Decision(Act.WAIT, f"join phase until block {deadlines.join}")
    if phases.joined < needed:
        return Decision(Act.ABORT, f"{phases.joined} joined, fewer than {needed}")
    if not phases.shares_over(block):
        return Decision(Act.WAIT, f"share phase until block {deadlines.share} ({phases.shared} of "
                                  f"{phases.joined} posted)")
    if phases.shared < needed:
        return Decision(Act.ABORT, f"{phases.shared} posted shares, fewer than {needed}")
    if not phases.submissions_over(info.submissions, block):
        return Decision(Act.WAIT, f"submission phase until block {deadlines.submit}")
    kept = info.submissions - phases.excluded
    if kept < needed:
        excluded = f" ({phases.excluded} excluded)" if phases.excluded else ""
        return Decision(Act.ABORT, f"{kept} masked updates{excluded}, fewer than {needed}")
    if not phases.review_over(block):
        return Decision(Act.REVIEW, f"review of {info.submissions} masked updates until block {deadlines.review}")
    if phases.revealed >= threshold and (phases.revealed == kept or block > deadlines.reveal):
        return Decision(Act.CLOSE)
    if block <= deadlines.reveal:
        return Decision(Act.WAIT, f"reveal phase until block {deadlines.reveal} ({phases.revealed} of "
                                  f"{kept} revealed, threshold {threshold})")
    return Decision(Act.ABORT, f"{phases.revealed} survivors revealed their shares, fewer than the threshold "
                               f"{threshold}")


def participant_decision(view: RoundView | None, status: ParticipantStatus, answered: bool,
                         drop_out: bool = False, prepared: bool = False) -> Decision:
    """A client's next act. `answered`: the chain records this client's update for the round (its
    `lastRound`); `status`: its place in a secure round; `drop_out`: join and never submit (demo);
    `prepared`: this client already trained for the secure round (its update waits to be masked)."""
    if view is None or not view.open:
        return Decision(Act.WAIT, "no open round")
    if view.phases is None:
        if answered:
            return Decision(Act.DONE, "already submitted")
        if view.info.submissions_closed or view.block >= view.info.deadline:
            return Decision(Act.DONE, "the round no longer takes updates")
        return Decision(Act.TRAIN)
    return _secure_participant(view, view.phases, status, drop_out, prepared)


def _secure_participant(view: RoundView, phases: SecurePhases, status: ParticipantStatus,
                        drop_out: bool, prepared: bool) -> Decision:
    block, deadlines = view.block, phases.deadlines
    ahead = not (drop_out or prepared)  # training needs only the base: it fills the join and share phases
    if status is ParticipantStatus.NONE:
        return Decision(Act.JOIN) if block <= deadlines.join else Decision(Act.DONE, "the join phase is over")
    if status is ParticipantStatus.JOINED:
        if block <= deadlines.join:
            return Decision(Act.PREPARE) if ahead else Decision(Act.WAIT, "the participant set is not fixed yet")
        return Decision(Act.SHARE) if block <= deadlines.share else Decision(Act.DONE, "missed the share phase")
    if status is ParticipantStatus.SHARED:
        if not phases.shares_over(block):
            return Decision(Act.PREPARE) if ahead else Decision(Act.WAIT, "the masking set is not fixed yet")
        if drop_out:
            return Decision(Act.DONE, "asked to drop out after posting shares")
        if block > deadlines.submit:
            return Decision(Act.DONE, "missed the submission phase")
        return Decision(Act.TRAIN)
    if status is ParticipantStatus.SUBMITTED:
        if block > deadlines.reveal:
            return Decision(Act.DONE, "reveal missed")
        if phases.review_over(block):  # exclusions are final: which share to reveal is too
            return Decision(Act.REVEAL)
        if phases.submissions_over(view.info.submissions, block):
            return Decision(Act.WAIT, f"the organization reviews the masked updates until block {deadlines.review}")
        return Decision(Act.WAIT, "others may still submit")
    if status is ParticipantStatus.EXCLUDED:
        return Decision(Act.DONE, "the organization excluded this masked update (the reason is on-chain)")
    return Decision(Act.DONE)
