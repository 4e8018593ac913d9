"""The organization's side of the round protocol, restartable at any point.

Everything it decides is derived from the chain and IPFS: the next base model is the last
finalized result (or the seeded initial model), an open round is resumed, and aggregation is
deterministic, so a restart finalizes a pending round exactly once with the same result.

Updates are screened as they land (each once per round; the verdicts are cached by submission
index), fetched in parallel under one deadline per pass, each capped in size and time. A store
outage postpones the close and is retried; it never rejects an update nor aborts a round. The
submission set is frozen on-chain before the final screening, so finalize covers exactly it.

Reorgs: close and finalize name the submissions digest of what was read and screened, and the
contract refuses them when its own differs; the organization then drops what it screened for the
round and screens what the chain holds now (one log line, no crash). With `confirmations` > 0 it
screens, closes and finalizes only on submissions at least that many blocks deep.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from chain.contract import EMPTY_SUBMISSIONS_DIGEST, FederatedLearningContract, RoundInfo, RoundState
from chain.errors import SubmissionsDigestMismatch
from chain.history import HistoryReader, SubmissionRecord
from chain.transactions import TxResult
from mlprocessor.aggregation import ClientUpdate
from mlprocessor.aggregation.bounds import InfluenceBounds
from mlprocessor.data import Dataset
from mlprocessor.evaluation import evaluate
from mlprocessor.root_direction import root_direction
from mlprocessor.specs import StateDict
from mlprocessor.task_registry import TaskMismatchError, TaskRef, get_task, task_for_file
from mlprocessor.validation import (
    NormBound,
    ValidationConfig,
    base_norm_bound,
    duplicate_of,
    history_norm_bound,
    l2_norm,
    round_problems,
    update_problem,
)
from protocol.aggregate import (
    AcceptedUpdate,
    Aggregate,
    accepted_update,
    aggregate_round,
    recent_movement,
    result_file,
)
from protocol.artifacts import (
    FISHER,
    Artifact,
    decode_artifact,
    encode_artifact,
    expect_update_for,
    max_update_bytes,
    model_metadata,
    published_median_norm,
    screening_extra,
    spec_extra,
)
from protocol.faults import pause_if_asked
from protocol.outages import RoundSettingsError, one_line
from protocol.plan import StrategySpec, TrainingPlan
from protocol.secure.bounds import fraction_extra
from protocol.timing import PhaseTimer
from storage.cid import Cid
from storage.model_file import ExtraValue, ModelFileError, expected_spec, read_metadata
from storage.store import (
    ContentNotFoundError,
    ContentStore,
    ContentTooLargeError,
    ContentVerificationError,
    StorageError,
)

FETCH_WORKERS = 8
SCREEN_BATCH = 4 * FETCH_WORKERS  # updates held at once while screening: memory does not grow with the clients
UPDATE_STAGES = ("fetch", "decode", "screen", "add")  # the organization's work per update, timed
MIN_FETCH_SECONDS = 1.0  # a download that would get less than this waits for the next pass


@dataclass(frozen=True)
class OrganizationSettings:
    task: str = "mnist-cnn"
    strategy: StrategySpec = field(default_factory=StrategySpec)
    plan: TrainingPlan = field(default_factory=TrainingPlan)
    quorum: int = 1  # the chain refuses to finalize with fewer submissions
    target: int = 1  # close as soon as this many updates arrived; else wait for the deadline
    deadline_blocks: int = 60
    # the least a round collects before the target may close it: long enough for honest clients
    # to answer (on a dev chain a block per transaction or per poll), so sybils that submit the
    # moment a round opens cannot close it alone; a window past the deadline means "to the deadline"
    window_blocks: int = 5
    confirmations: int = 0  # act on submissions this many blocks deep (0 on dev chains; a few on a real network)
    max_samples: int = 10_000  # the most examples one update may claim (its FedAvg weight is capped by it)
    seed: int = 0
    validation: ValidationConfig | None = None  # None: the task's screening defaults
    bounds: InfluenceBounds | None = field(default_factory=InfluenceBounds)  # None: as before the bounds existed
    fetch_seconds: float = 60.0  # one deadline for all the downloads of one screening pass
    root_data: str | None = None  # a path: the organization's own clean examples, to screen update directions

    def check(self) -> None:
        """Refuse settings no round could finalize with, before a contract is deployed or a round
        opened with them (RoundSettingsError, one line)."""
        try:
            needed = self.strategy.build().minimum_updates()
        except ValueError as error:
            raise RoundSettingsError(f"strategy {self.strategy.name}: {error}") from None
        if self.window_blocks < 0 or self.confirmations < 0:
            raise RoundSettingsError("the collection window and the confirmation depth are 0 or more blocks")
        task = get_task(self.task)
        validation = self.validation or ValidationConfig.for_task(task.screening)
        if self.root_data is not None and validation.min_root_cosine is None:
            raise RoundSettingsError(
                f"task {task.name} turns the root-data screen off: its honest clients with skewed data point "
                "against the descent direction on root data as far as attackers do (docs/BENCHMARKS.md, screening "
                "calibration); run without --root-data")
        if self.quorum < needed:
            raise RoundSettingsError(
                f"strategy {self.strategy.name} {self.strategy.params or ''} needs at least {needed} "
                f"accepted updates, but the quorum is {self.quorum}: raise the quorum or choose other "
                "parameters")


class ScreeningPostponed(Exception):
    """The store could not deliver some updates (an outage, not their fault): close later."""


@dataclass
class RoundOutcome:
    """What closing a round did, for logs, the demo summary and the web interface."""

    round_id: int
    state: RoundState
    base_cid: Cid
    result_cid: Cid | None = None
    accepted: list[bool] = field(default_factory=list)
    rejections: dict[int, str] = field(default_factory=dict)
    accuracy: float | None = None
    loss: float | None = None
    tx_hash: str | None = None
    gas_used: int = 0
    reason: str | None = None  # why the round was aborted, or why its close was postponed
    timer: PhaseTimer = field(default_factory=PhaseTimer)
    update_seconds: dict[str, float] = field(default_factory=dict)  # UPDATE_STAGES summed over the updates

    def closed(self, state: RoundState, transaction: TxResult) -> None:
        """Record the transaction that finalized or aborted the round."""
        self.state, self.tx_hash, self.gas_used = state, transaction.tx_hash, transaction.gas_used

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.round_id, "state": str(self.state), "base_cid": str(self.base_cid),
            "result_cid": str(self.result_cid) if self.result_cid else None,
            "accepted": self.accepted, "rejections": {str(i): r for i, r in self.rejections.items()},
            "accuracy": self.accuracy, "loss": self.loss, "tx_hash": self.tx_hash, "gas_used": self.gas_used,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Verdict:
    """One screened submission: what aggregation needs of it (a few numbers; the file is read
    again when the round is aggregated), or why it is refused."""

    client: str
    update: AcceptedUpdate | None = None
    reason: str | None = None


@dataclass
class RoundScreen:
    """What screening knows about one open round; verdicts are keyed by submission index."""

    base: Artifact
    spec: dict[str, tuple[tuple[int, ...], str]]  # the base's tensor spec: every update must match it
    plan: TrainingPlan
    bound: NormBound | None
    history: NormBound | None
    reference: StateDict | None  # the base's descent direction on the root data, when the organization holds some
    movement: StateDict | None  # the model's recent movement, for alignment weighting; None: not weighed
    verdicts: dict[int, Verdict] = field(default_factory=dict)
    stages: PhaseTimer = field(default_factory=lambda: PhaseTimer(UPDATE_STAGES))
    screened: list[tuple[str, Cid, int]] = field(default_factory=list)  # (client, CID, samples) in chain order
    digest: bytes = EMPTY_SUBMISSIONS_DIGEST  # the contract's digest of `screened`


class Organization:
    """Drives rounds on one contract with one content store."""

    def __init__(self, contract: FederatedLearningContract, store: ContentStore, settings: OrganizationSettings,
                 test_data: Dataset | None, log: Callable[[str], None] = print) -> None:
        self.contract = contract
        self.store = store
        self.settings = settings
        self.test_data = test_data
        self.log = log
        self.history = HistoryReader(contract, confirmations=settings.confirmations)
        self._screens: dict[int, RoundScreen] = {}
        self.task = get_task(settings.task)
        self.spec = self.task.tensor_spec()
        self.size_limit = max_update_bytes(self.spec)
        # what every model this organization publishes says about the round: plan, task pin, tensor spec
        self.validation = settings.validation or ValidationConfig.for_task(self.task.screening)
        self.root_data = self.task.load_participant_data(settings.root_data) if settings.root_data else None
        self._pin = {**TaskRef.of(self.task.name).to_extra(), **spec_extra(self.spec),
                     **fraction_extra(self.task.screening.base_norm_fraction)}

    @property
    def plan_extra(self) -> dict[str, ExtraValue]:
        """What every model this organization publishes says about the next round: the plan as the
        settings say now, the task pin, the tensor spec and the fraction of the base's norm that a
        secure round's decoded sum is checked against (so that `verify` re-runs the check)."""
        settings = self.settings
        return {**settings.strategy.configure(settings.plan).to_extra(), **self._pin}

    # ---------------------------------------------------------------- models

    def initial_model_cid(self) -> Cid:
        """Publish the seeded initial model (idempotent: same seed, same bytes, same CID)."""
        settings = self.settings
        metadata = model_metadata(self.task.name, 0, 0, None, self.plan_extra)
        return self.store.add_bytes(encode_artifact(self.task.initial_state(settings.seed), metadata))

    def next_base_cid(self) -> Cid:
        """The latest finalized result, else the initial model: derived from the chain alone."""
        for round_id in range(self.contract.round_count(), 0, -1):  # usually the latest round already
            info = self.contract.round(round_id)
            if info.state is RoundState.FINALIZED and info.result_cid:
                return info.result_cid
        return self.initial_model_cid()

    def fetch_model(self, cid: Cid, timer: PhaseTimer | None = None) -> Artifact:
        timer = timer or PhaseTimer()
        with timer.phase("ipfs"):
            data = self.store.get(cid)
        with timer.phase("serialization"):
            return self._checked_base(data)

    def _checked_base(self, data: bytes) -> Artifact:
        """A base model of this organization's task at the installed hash, else RoundSettingsError."""
        metadata = read_metadata(data)
        try:
            task = task_for_file(metadata.extra, metadata.architecture)
        except TaskMismatchError as error:
            raise RoundSettingsError(f"the contract's current model: {error}") from None
        if task.name != self.task.name:
            raise RoundSettingsError(f"the contract's current model is for task {task.name}, this organization "
                                     f"runs {self.task.name}: pass --task {task.name} or deploy a new contract")
        return decode_artifact(data, self.spec)

    # ---------------------------------------------------------------- rounds

    def current_round(self) -> RoundInfo | None:
        count = self.contract.round_count()
        if count == 0:
            return None
        info = self.contract.round(count)
        return info if info.state is RoundState.OPEN else None

    def open_round(self) -> tuple[int, TxResult]:
        self.settings.check()
        base = self.next_base_cid()
        self.store.pin(base)  # the organization keeps every base, accepted update and result it publishes
        settings = self.settings
        deadline = self.contract.block_number() + settings.deadline_blocks
        round_id, result = self.contract.open_round(base, deadline, settings.quorum, settings.max_samples,
                                                    settings.window_blocks)
        self.log(f"round {round_id}: opened on {base}, deadline block {deadline}, quorum {settings.quorum}, "
                 f"collecting for at least {settings.window_blocks} blocks")
        return round_id, result

    def close_round(self, round_id: int) -> RoundOutcome:
        """Freeze the submissions, screen what is not screened yet, then finalize with the valid
        updates or abort with a reason. A store outage leaves the round open (state OPEN and
        `reason` say so): call again later."""
        info = self.contract.round(round_id)
        outcome = RoundOutcome(round_id, info.state, info.base_cid)
        if info.state is not RoundState.OPEN:
            return outcome
        if info.submissions < info.quorum:
            return self._abort(outcome, f"{info.submissions} of {info.quorum} required updates")
        block = self.contract.block_number()
        if not info.submissions_closed and block < info.closable_at and block <= info.deadline:
            return self.postponed(outcome, f"round {round_id} collects until block {info.closable_at} (its "
                                            "collection window), so honest clients can still answer")
        try:
            if not info.submissions_closed:
                with outcome.timer.phase("chain"):
                    self._logged_submissions(info)  # the logs show exactly the submissions the digest covers
                    self.contract.close_submissions(round_id, info.submissions_digest)
                    info = self.contract.round(round_id)
            screen = self.screen_new(round_id, outcome.timer)
            return self._finish(info, screen, outcome)
        except ScreeningPostponed as postponed:
            return self.postponed(outcome, str(postponed))
        except SubmissionsDigestMismatch:
            self._screens.pop(round_id, None)
            return self.postponed(outcome, "the chain's submissions are no longer the ones read and screened "
                                            "(a reorg, or a late submission): screening what the chain holds now")

    def postponed(self, outcome: RoundOutcome, why: str) -> RoundOutcome:
        """`outcome` left open with the reason its close must wait (an outage, a collection window)."""
        outcome.reason = f"close postponed: {why}"
        self.log(f"round {outcome.round_id}: {outcome.reason}")
        return outcome

    def _finish(self, info: RoundInfo, screen: RoundScreen, outcome: RoundOutcome) -> RoundOutcome:
        round_id = info.round_id
        verdicts = [screen.verdicts[i] for i in range(info.submissions)]
        norms = {i: v.update.norm for i, v in enumerate(verdicts) if v.update is not None}
        outcome.rejections = {i: v.reason for i, v in enumerate(verdicts) if v.reason is not None}
        outcome.rejections.update(round_problems(norms, self._validation(info), screen.history))
        outcome.accepted = [i not in outcome.rejections for i in range(info.submissions)]
        for index, reason in sorted(outcome.rejections.items()):
            self.log(f"round {round_id}: rejected update {index} ({verdicts[index].client}): {reason}")
        accepted = [(index, v.update) for index, (v, ok) in enumerate(zip(verdicts, outcome.accepted, strict=True))
                    if ok and v.update is not None]
        strategy = self.settings.strategy
        needed = strategy.build().minimum_updates()
        if len(accepted) < needed:
            return self._abort(outcome, f"{len(accepted)} of {info.submissions} updates passed screening; "
                                        f"{strategy.name} needs at least {needed}")
        aggregate = self._aggregate(info, screen, accepted, outcome.timer)
        outcome.update_seconds = screen.stages.totals()
        extra = dict(self.plan_extra)
        if self.test_data is not None:
            with outcome.timer.phase("evaluation"):
                evaluation = evaluate(self.task.model_from_state(aggregate.tensors), self.test_data)
            outcome.accuracy, outcome.loss = evaluation.accuracy, evaluation.loss
            extra.update({"test_accuracy": round(evaluation.accuracy, 6), "test_loss": round(evaluation.loss, 6)})
        accepted_norms = [norms[i] for i, ok in enumerate(outcome.accepted) if ok]
        extra.update(screening_extra(outcome.rejections, float(np.median(accepted_norms))))
        with outcome.timer.phase("serialization"):
            data = result_file(screen.base, info.base_cid, round_id, aggregate, strategy, extra)
        with outcome.timer.phase("ipfs"):
            outcome.result_cid = self.store.add_bytes(data)  # pinned, as every add is
        self.log(f"round {round_id}: aggregated -> {outcome.result_cid}")
        pause_if_asked("before-finalize")
        with outcome.timer.phase("chain"):
            result = self.contract.finalize_round(round_id, outcome.result_cid, outcome.accepted, screen.digest)
        outcome.closed(RoundState.FINALIZED, result)
        self._screens.pop(round_id, None)
        accuracy = f", test accuracy {outcome.accuracy:.2%}" if outcome.accuracy is not None else ""
        self.log(f"round {round_id}: finalized with {sum(outcome.accepted)}/{len(outcome.accepted)} updates "
                 f"-> {outcome.result_cid}{accuracy}")
        return outcome

    def _aggregate(self, info: RoundInfo, screen: RoundScreen, accepted: Sequence[tuple[int, AcceptedUpdate]],
                   timer: PhaseTimer) -> Aggregate:
        """The accepted updates read again one at a time from the store (their CIDs were checked at
        screening) and added up: memory stays at a few models however many clients answered. A
        store outage here postpones the close, as at screening."""
        stages = screen.stages
        read_seconds = PhaseTimer(UPDATE_STAGES)

        def read(position: int) -> Artifact:
            _, cid, _ = screen.screened[accepted[position][0]]
            with read_seconds.phase("fetch"):
                data = self.store.get_bounded(cid, self.size_limit, self.settings.fetch_seconds)
            with read_seconds.phase("decode"):
                return decode_artifact(data, screen.spec)

        started = time.perf_counter()
        try:
            with timer.phase("aggregation"):
                aggregate = aggregate_round(screen.base, [update for _, update in accepted], read,
                                            self.settings.strategy, self.settings.bounds)
        except StorageError as error:
            raise ScreeningPostponed(f"an accepted update could not be read again: {one_line(error)}") from None
        reads = read_seconds.totals()
        stages.merge(read_seconds)
        stages.add("add", time.perf_counter() - started - reads["fetch"] - reads["decode"])
        return aggregate

    def abort(self, round_id: int, why: str) -> RoundOutcome:
        """Abort the open round with a recorded reason."""
        info = self.contract.round(round_id)
        return self._abort(RoundOutcome(round_id, info.state, info.base_cid), why)

    def _abort(self, outcome: RoundOutcome, why: str) -> RoundOutcome:
        with outcome.timer.phase("chain"):
            result = self.contract.abort_round(outcome.round_id)
        outcome.closed(RoundState.ABORTED, result)
        outcome.reason = why
        self._screens.pop(outcome.round_id, None)
        self.log(f"round {outcome.round_id}: aborted ({why})")
        return outcome

    # ---------------------------------------------------------------- screening

    def _validation(self, info: RoundInfo) -> ValidationConfig:
        config = self.validation
        return replace(config, max_samples=min(config.max_samples, info.max_samples))

    def screened(self, round_id: int) -> int:
        """How many of the round's submissions have a verdict already."""
        screen = self._screens.get(round_id)
        return len(screen.verdicts) if screen else 0

    def _screen_of(self, info: RoundInfo, timer: PhaseTimer) -> RoundScreen:
        if info.round_id not in self._screens:
            assert info.base_cid is not None
            try:
                with timer.phase("ipfs"):
                    data = self.store.get_bounded(info.base_cid, self.size_limit, self.settings.fetch_seconds)
            except StorageError as error:
                raise ScreeningPostponed(f"the base model is not available: {one_line(error)}") from None
            with timer.phase("serialization"):
                base = self._checked_base(data)
            config = self._validation(info)
            self._screens[info.round_id] = RoundScreen(
                base, expected_spec(base.tensors), TrainingPlan.from_extra(base.metadata.extra),
                base_norm_bound(l2_norm(base.tensors), config),
                history_norm_bound(published_median_norm(base.metadata), config),
                root_direction(self.task, base.tensors, self.root_data) if self.root_data is not None else None,
                self._movement(base, timer))
        return self._screens[info.round_id]

    def _movement(self, base: Artifact, timer: PhaseTimer) -> StateDict | None:
        """The model's recent movement, when the bounds weigh alignment (None otherwise)."""
        bounds = self.settings.bounds
        if bounds is None or not bounds.alignment:
            return None
        try:
            with timer.phase("ipfs"):
                return recent_movement(base, bounds.trajectory, lambda cid: self.store.get_bounded(
                    cid, self.size_limit, self.settings.fetch_seconds))
        except StorageError as error:
            raise ScreeningPostponed(f"an earlier model of the base's history is not available: "
                                     f"{one_line(error)}") from None

    def screen_new(self, round_id: int, timer: PhaseTimer | None = None) -> RoundScreen:
        """Screen the submissions that have no verdict yet; raise ScreeningPostponed when the
        store could not deliver some of them (they are tried again on the next call)."""
        timer = timer or PhaseTimer()
        info = self.contract.round(round_id)
        screen = self._screen_of(info, timer)
        if screen.digest == info.submissions_digest and len(screen.verdicts) == info.submissions:
            return screen
        with timer.phase("chain"):
            submissions = self._logged_submissions(info)
        keys = [(s.client, s.cid, s.samples) for s in submissions]
        if keys[:len(screen.screened)] != screen.screened:  # a reorg replaced what was screened
            self.log(f"round {round_id}: the chain's submissions changed under the screening (a reorg): "
                     "screening them again")
            screen.verdicts.clear()
        screen.screened, screen.digest = keys, info.submissions_digest
        cids = [str(s.cid) for s in submissions]
        new = [s for s in submissions if s.index not in screen.verdicts]
        for submission in new:
            if (duplicate := duplicate_of(cids, submission.index)) is not None:  # refused without a download
                screen.verdicts[submission.index] = Verdict(submission.client, reason=duplicate)
        new = [s for s in new if s.index not in screen.verdicts]
        deadline = time.monotonic() + self.settings.fetch_seconds
        outages: list[str] = []
        for start in range(0, len(new), SCREEN_BATCH):  # a batch's files are dropped once judged
            batch = new[start:start + SCREEN_BATCH]
            with timer.phase("ipfs"), screen.stages.phase("fetch"):
                downloads, missing = self._fetch_all(batch, info, deadline)
            outages += missing
            with timer.phase("serialization"):
                for submission in batch:
                    if submission.index in downloads:
                        screen.verdicts[submission.index] = self._judge(submission, downloads[submission.index],
                                                                        info, screen)
        if outages:
            raise ScreeningPostponed(f"{len(outages)} update(s) could not be fetched yet ({outages[0]})")
        return screen

    def _logged_submissions(self, info: RoundInfo) -> list[SubmissionRecord]:
        """The round's submissions from the logs, exactly those its header's digest covers; postponed
        while the logs (read `confirmations` deep) show fewer or others (a lagging node, a reorg)."""
        record = self.history.round(info.round_id, with_gas=False)
        logged = record.submissions if record is not None else []
        if len(logged) < info.submissions:
            raise ScreeningPostponed(f"the chain's logs show {len(logged)} of {info.submissions} submissions "
                                     f"so far (at {self.settings.confirmations} confirmations)")
        assert record is not None
        if record.digest(info.submissions) != info.submissions_digest:
            raise ScreeningPostponed("the chain's logs and its round header disagree on the submissions "
                                     "(a reorg under way?)")
        return logged[:info.submissions]

    def screen_landed(self, round_id: int, timer: PhaseTimer | None = None) -> None:
        """Screen what has landed while the round is still open, so closing only screens the rest;
        the store being down only means waiting."""
        try:
            self.screen_new(round_id, timer)
        except ScreeningPostponed as postponed:
            self.log(f"round {round_id}: screening waits for the store: {postponed}")

    def _fetch_all(self, submissions: Sequence[SubmissionRecord], info: RoundInfo,
                   deadline: float) -> tuple[dict[int, bytes | str], list[str]]:
        """Download in parallel under the pass's deadline (a `time.monotonic()` value): index ->
        bytes or a rejection reason; plus the outages. A CID the store cannot find counts against the
        update only while the store still serves the base model; otherwise the store is down and
        nothing is held against anyone."""
        limit = self.size_limit

        def fetch(submission: SubmissionRecord) -> bytes | StorageError:
            remaining = deadline - time.monotonic()
            if remaining < MIN_FETCH_SECONDS:
                return StorageError(f"the screening deadline of {self.settings.fetch_seconds:g}s passed first")
            try:
                return self.store.get_bounded(submission.cid, limit, remaining)
            except StorageError as error:
                return error

        if not submissions:
            return {}, []
        with ThreadPoolExecutor(min(FETCH_WORKERS, len(submissions))) as pool:
            results = dict(zip((s.index for s in submissions), pool.map(fetch, submissions), strict=True))
        missing = any(isinstance(r, ContentNotFoundError) for r in results.values())
        store_works = not missing or self.store_serves(info.base_cid)
        downloads: dict[int, bytes | str] = {}
        outages: list[str] = []
        for index, result in results.items():
            if isinstance(result, bytes):
                downloads[index] = result
            elif isinstance(result, ContentTooLargeError | ContentVerificationError) or (
                    isinstance(result, ContentNotFoundError) and store_works):
                downloads[index] = f"unusable file: {result}"
            else:
                outages.append(f"update {index}: {one_line(result)}")
        return downloads, outages

    def store_serves(self, base_cid: Cid | None) -> bool:
        """Whether the store still delivers the round's base: then a missing CID is the submitter's fault."""
        assert base_cid is not None
        try:
            self.store.get_bounded(base_cid, self.size_limit, MIN_FETCH_SECONDS * 10)
        except StorageError:
            return False
        return True

    def _judge(self, submission: SubmissionRecord, download: bytes | str, info: RoundInfo,
               screen: RoundScreen) -> Verdict:
        if isinstance(download, str):
            return Verdict(submission.client, reason=download)
        try:
            with screen.stages.phase("decode"):
                artifact = decode_artifact(download, screen.spec)
                expect_update_for(artifact, info.round_id, info.base_cid, submission.samples)
        except ModelFileError as error:
            return Verdict(submission.client, reason=f"unusable file: {error}")
        with screen.stages.phase("screen"):
            fedcurv = screen.plan.fedcurv_lambda > 0
            fisher = artifact.section(FISHER) if fedcurv else None  # ignored when FedCurv is off
            update = ClientUpdate(artifact.tensors, artifact.metadata.sample_count, submission.client)
            problem = update_problem(update, screen.spec, self._validation(info), screen.bound, fisher,
                                     screen.base.tensors, screen.reference)
            if problem is not None:
                return Verdict(submission.client, reason=problem)
            accepted = accepted_update(submission.client, artifact, fedcurv, screen.movement)
        with screen.stages.phase("fetch"):
            self.store.pin(submission.cid)  # kept while surely at hand: the round may aggregate it, verifiers read it
        return Verdict(submission.client, accepted)
