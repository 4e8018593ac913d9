"""The organization's side of secure-aggregation rounds: open with phases and a threshold, unmask, finalize.

Like plain rounds, everything is derived from the chain and IPFS, so a restarted organization
resumes an open secure round where its phases stand. The organization never sees an individual
update: in each round's review it fetches every masked file with its size cap and deadline, pins
on its own node those it keeps (a submitter's node may forget them once the review is over) and
excludes on-chain, with the reason, the missing (while the store serves the round's base: otherwise
it is an outage and the review waits), oversized and malformed ones, so that they count as dropped;
then it ends the review. At the close it sums the masked updates not excluded, removes the
survivors' self-masks and the dropped participants'
pairwise masks with the secrets rebuilt from the revealed shares, and publishes the result that
`run.py verify` recomputes from the same data. Whatever cannot be unmasked, and a decoded sum
outside the base's published bounds (protocol.secure.bounds), aborts the round with the reason in
one line; the next round starts again from the last finalized model.
"""

from __future__ import annotations

from dataclasses import dataclass

from chain.contract import ExclusionReason, RoundState, SecureDeadlines
from chain.transactions import TxResult
from mlprocessor.evaluation import evaluate
from organization.service import Organization, OrganizationSettings, RoundOutcome
from protocol.artifacts import Artifact
from protocol.secure.aggregate import SECURE_STRATEGIES, secure_result_file, secure_state
from protocol.secure.bounds import SecureBounds, next_bounds, round_bounds, sum_problem
from protocol.secure.masked_file import MaskedFileError
from protocol.secure.public_round import (
    exclusion_reason,
    load_bundles,
    load_masked_update,
    load_reveals,
    read_secure_round,
)
from protocol.secure.unmask import UnmaskingError
from storage.model_file import ModelFileError
from storage.store import StorageError

MIN_PARTICIPANTS = 3
# The review lasts twice a phase, to fetch every masked file on a loaded machine; it costs nothing in
# the usual case, since the organization ends it as soon as it has. A review that runs out before a
# bad file is excluded leaves that file to abort the round at the close, as before the review existed.
REVIEW_PHASES = 2


@dataclass(frozen=True)
class SecureSettings:
    phase_blocks: int = 20  # blocks the join, share, masked submission and reveal phases last each
    min_participants: int = MIN_PARTICIPANTS  # fewer joiners or survivors abort the round
    threshold: int = 0  # Shamir threshold t; 0: a majority of those who join

    def __post_init__(self) -> None:
        if self.phase_blocks < 1:
            raise ValueError("a secure-round phase lasts at least one block")
        if self.threshold == 1 or self.threshold < 0:
            raise ValueError("a secure round's threshold is 0 (a majority of those who join) or at least 2")
        if self.min_participants < MIN_PARTICIPANTS:
            raise ValueError(f"a secure round needs at least {MIN_PARTICIPANTS} participants: with two, each "
                             "would learn the other's update from the sum")


def refuse_unmaskable_settings(settings: OrganizationSettings, validation_asked: bool) -> None:
    """Robust rules and per-update validation need to see individual updates, which masking hides."""
    if settings.strategy.name not in SECURE_STRATEGIES:
        raise ValueError(f"--strategy {settings.strategy.name} needs to see individual updates, which secure "
                         f"aggregation hides from everyone; use {' or '.join(SECURE_STRATEGIES)} with it")
    if validation_asked:
        raise ValueError("per-update validation (norm bounds) needs to see individual updates, which secure "
                         "aggregation hides from everyone; drop the validation options or the secure aggregation")


class SecureRounds:
    """Drives secure rounds for an `Organization` (its contract, store, model and test data)."""

    def __init__(self, organization: Organization, settings: SecureSettings) -> None:
        refuse_unmaskable_settings(organization.settings, validation_asked=False)
        self.organization = organization
        self.settings = settings
        self.contract = organization.contract

    def bounds(self, base: Artifact) -> SecureBounds:
        """The clip bound and claim cap `base` publishes for the round built on it."""
        organization = self.organization
        return round_bounds(base.tensors, base.metadata.extra, organization.task.screening.base_norm_fraction,
                            organization.settings.max_samples)

    def open_round(self) -> tuple[int, TxResult]:
        """Open on the last finalized model (an aborted round's never counts) with its published claim cap."""
        base = self.organization.next_base_cid()
        self.organization.store.pin(base)
        bounds = self.bounds(self.organization.fetch_model(base))
        now, phase = self.contract.block_number(), self.settings.phase_blocks
        submit = now + 3 * phase
        deadlines = SecureDeadlines(now + phase, now + 2 * phase, submit, submit + REVIEW_PHASES * phase,
                                    submit + (REVIEW_PHASES + 1) * phase)
        round_id, result = self.contract.open_secure_round(base, deadlines, self.settings.min_participants,
                                                           bounds.max_samples, self.settings.threshold)
        self.organization.log(f"round {round_id}: secure round opened on {base}; join until block "
                              f"{deadlines.join}, share until {deadlines.share}, submit until {deadlines.submit}, "
                              f"review until {deadlines.review}, reveal until {deadlines.reveal}; threshold "
                              f"{self.settings.threshold or 'a majority of the joined'}; clip bound "
                              f"{bounds.clip:.4g}, at most {bounds.max_samples} samples per update")
        return round_id, result

    def review(self, round_id: int) -> RoundOutcome | None:
        """Fetch every masked update not yet excluded with its size cap and deadline, exclude the
        missing, oversized and malformed ones on-chain (one line each), then end the review; None
        when it ended. A file the store cannot deliver while it no longer serves the round's base
        is an outage: nothing is excluded for it and the review is postponed (an outcome saying why)."""
        organization = self.organization
        record = read_secure_round(self.contract, round_id)
        assert record is not None
        base = organization.fetch_model(record.base_cid)
        outage, excluded = None, len(record.excluded)
        for submission in record.survivors:  # a review resumed after a restart skips the excluded
            try:
                load_masked_update(organization.store, record, submission, base)
                organization.store.pin(submission.cid)  # kept on the organization's node from now on: the
                # reveals that follow make a masked file lost after the review impossible to treat as dropped
            except (StorageError, ModelFileError) as error:
                reason = exclusion_reason(error)
                if reason is None or (reason is ExclusionReason.MISSING
                                      and not organization.store_serves(record.base_cid)):
                    outage = error  # nobody's fault: never an exclusion
                    continue
                self.contract.exclude_masked_update(round_id, submission.client, reason)
                excluded += 1
                organization.log(f"round {round_id}: excluded masked update {submission.index} "
                                 f"({submission.client}) as {reason}: {error}")
        if outage is not None:
            outcome = RoundOutcome(round_id, RoundState.OPEN, record.base_cid)
            outcome.reason = f"review postponed: the store does not deliver the round's files ({outage})"
            organization.log(f"round {round_id}: {outcome.reason}")
            return outcome
        self.contract.end_review(round_id)
        organization.log(f"round {round_id}: review ended, {len(record.submissions) - excluded} masked updates "
                         f"kept, {excluded} excluded")
        return None

    def close(self, round_id: int) -> RoundOutcome:
        """Unmask and finalize; what cannot be unmasked aborts the round with the reason, naming who."""
        organization = self.organization
        record = read_secure_round(self.contract, round_id)
        assert record is not None
        outcome = RoundOutcome(round_id, RoundState.OPEN, record.base_cid)
        if record.exclusions_hidden:  # the node lags: never sum an update the review excluded
            return organization.postponed(outcome, "the node's logs show fewer exclusions than the contract counts")
        base = organization.fetch_model(record.base_cid, outcome.timer)
        try:
            with outcome.timer.phase("ipfs"):
                updates = [load_masked_update(organization.store, record, s, base) for s in record.survivors]
                bundles, bundle_problems = load_bundles(organization.store, record)
                reveals, reveal_problems = load_reveals(organization.store, record)
            with outcome.timer.phase("aggregation"):
                bounds = self.bounds(base)
                state, unmasked = secure_state(base, updates, record.setup(), bundles, reveals)
        except (MaskedFileError, UnmaskingError, StorageError, ModelFileError, ValueError) as error:
            if not organization.store_serves(record.base_cid):  # an outage is nobody's fault: try again later
                return organization.postponed(outcome, f"the store does not deliver the round's files ({error})")
            return self.abort(round_id, f"the masked sum cannot be unmasked: {error}")
        for problem in bundle_problems + reveal_problems + unmasked.set_aside:
            organization.log(f"round {round_id}: set aside: {problem}")
        fraction = organization.task.screening.base_norm_fraction
        if (problem := sum_problem(unmasked.average, base.tensors, bounds, fraction)) is not None:
            return self.abort(round_id, f"the decoded sum fails its check, the next round starts again from "
                                        f"{record.base_cid}: {problem}")
        outcome.accepted = [s.client.lower() not in record.excluded for s in record.submissions]
        outcome.rejections = {s.index: f"excluded in the review: {record.excluded[s.client.lower()]}"
                              for s in record.submissions if s.client.lower() in record.excluded}
        extra = {**organization.plan_extra, **next_bounds(unmasked.average, [s.samples for s in record.survivors],
                                                          organization.settings.max_samples).to_extra()}
        if organization.test_data is not None:
            with outcome.timer.phase("evaluation"):
                evaluation = evaluate(organization.task.model_from_state(state), organization.test_data)
            outcome.accuracy, outcome.loss = evaluation.accuracy, evaluation.loss
            extra.update({"test_accuracy": round(evaluation.accuracy, 6), "test_loss": round(evaluation.loss, 6)})
        with outcome.timer.phase("serialization"):
            data = secure_result_file(base, record.base_cid, round_id, state, record.total_samples,
                                      organization.settings.strategy, extra)
        with outcome.timer.phase("ipfs"):
            outcome.result_cid = organization.store.add_bytes(data)  # pinned, like the files verifying it reads:
            for cid in ([submission.cid for submission in record.survivors] + list(record.bundle_cids.values())
                        + [cid for _, cid in record.reveals]):
                organization.store.pin(cid)
        with outcome.timer.phase("chain"):
            result = self.contract.finalize_secure_round(round_id, outcome.result_cid)
        outcome.closed(RoundState.FINALIZED, result)
        excluded = f", {len(record.excluded)} of them excluded in the review" if record.excluded else ""
        organization.log(f"round {round_id}: secure round finalized with {len(updates)} masked updates "
                         f"({len(record.dropped)} dropped{excluded}) -> {outcome.result_cid}")
        return outcome

    def abort(self, round_id: int, why: str) -> RoundOutcome:
        info = self.contract.round(round_id)
        outcome = RoundOutcome(round_id, info.state, info.base_cid)
        with outcome.timer.phase("chain"):
            result = self.contract.abort_secure_round(outcome.round_id)
        outcome.closed(RoundState.ABORTED, result)
        outcome.reason = why
        self.organization.log(f"round {outcome.round_id}: secure round aborted ({why})")
        return outcome
