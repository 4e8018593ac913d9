"""The client's side of the round protocol: pull the base, train with EWC/FedProx/FedCurv, publish.

`pending_round` asks the chain whether this account already submitted to the open round, so a
restarted client neither submits twice nor misses a round it has not answered. What the chain
cannot know, the client keeps on disk (client/state.py): its EWC memory and the fingerprint of the
data it trained on. When that data changes (or the user asks), the client consolidates before
training: the Fisher it measured at the end of its last round on the old data joins its memory,
anchored at the global model it just received (Kirkpatrick et al.'s EWC, in rounds).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chain.contract import ClientStatus, FederatedLearningContract, ParticipantStatus, RoundInfo, RoundState
from chain.errors import ROUND_STATE_WORDS, DeadlinePassed, RoundNotOpen, SubmissionsClosed
from chain.history import HistoryReader
from client.keys import load_or_create_keys
from client.state import ClientState, Consolidation, DataRecord, HistoryEntry
from mlprocessor.data import DataError, Dataset, dataset_fingerprint, directory_signature
from mlprocessor.evaluation import evaluate
from mlprocessor.ewc import EwcMemory, EwcState, fedcurv_penalty, fisher_diagonal
from mlprocessor.task import Task
from mlprocessor.task_registry import DEFAULT_TASK, TaskMismatchError, get_task, task_for_file
from mlprocessor.training import QuadraticPenalty, TrainConfig, TrainResult, train_local
from protocol.artifacts import (
    FEDCURV_U,
    FEDCURV_V,
    FISHER,
    Artifact,
    decode_artifact,
    encode_artifact,
    fedcurv_problem,
    update_metadata,
)
from protocol.engine import Act, RoundView, participant_decision, read_view
from protocol.faults import pause_if_asked
from protocol.plan import TrainingPlan
from protocol.timing import PhaseTimer
from storage.model_file import Encoding
from storage.store import ContentStore


@dataclass(frozen=True)
class ClientSettings:
    ewc_lambda: float = 0.0  # 0 disables EWC; Kirkpatrick's lambda (run.py's default: DEFAULT_EWC_LAMBDA)
    ewc_decay: float = 1.0  # online EWC across consolidations: F <- decay * F + F_new (1: plain sum)
    fisher_mode: str = "sampled"
    fisher_samples: int = 300
    encoding: Encoding = "float32"
    seed: int = 0
    mu: float | None = None  # FedProx proximal weight; None follows the organization's plan
    task: str = DEFAULT_TASK  # the task whose data this client holds; rounds of tasks reading other data are refused
    confirmations: int = 0  # decide from the chain this many blocks below its head (0 on dev chains; a few on a
    # public network: a round opened in a block that a reorg removes is never trained on)


ABSURD_WEIGHT = 1e4  # no trained model of the bundled tasks comes near; 1e8 did, from a poisoned secure sum


class RefusedBase(ValueError):
    """The round's base model is well-formed but this client will not train on it; the message says why."""


@dataclass(frozen=True)
class LocalTraining:
    """One round's local training: the base it started from, the result, and local accuracy around it."""

    base: Artifact
    task: Task
    plan: TrainingPlan
    result: TrainResult
    fisher: dict[str, np.ndarray] | None
    accuracy_before: float
    accuracy_after: float
    data_record: DataRecord


@dataclass
class Participation:
    round_id: int
    entry: HistoryEntry | None = None
    skipped: str | None = None
    timer: PhaseTimer = field(default_factory=PhaseTimer)


class Client:
    """One account's participation in rounds, with its own data and state directory."""

    def __init__(self, contract: FederatedLearningContract, store: ContentStore, data: Dataset,
                 state: ClientState, settings: ClientSettings, log: Callable[[str], None] = print,
                 data_dir: Path | None = None) -> None:
        """``data_dir``: the directory ``data`` came from, watched for new or changed files."""
        if len(data) == 0:
            raise ValueError("a client needs at least one training example")
        self.contract = contract
        self.store = store
        self.data = data
        self.state = state
        self.settings = settings
        self.log = log
        self.data_dir = data_dir
        self.task = get_task(settings.task)
        self._data_signature = directory_signature(data_dir) if data_dir is not None else None

    @property
    def address(self) -> str:
        return self.contract.account.address

    def ensure_registered(self) -> None:
        if self.contract.client_info(self.address).status is not ClientStatus.REGISTERED:
            self.contract.register(load_or_create_keys(self.state.directory).public_bytes())
            self.log(f"client {self.address}: registered")

    def round_view(self) -> RoundView | None:
        """The latest round as the chain states it `confirmations` blocks below its head (eth_call at
        that block): what this client decides from."""
        return read_view(self.contract.confirmed(self.settings.confirmations))

    def pending_round(self) -> RoundInfo | None:
        """The open plain round this client has not answered yet and can still make, if any."""
        view = self.round_view()
        if view is None or view.secure:
            return None
        answered = self.contract.client_info(self.address).last_round == view.info.round_id
        return view.info if participant_decision(view, ParticipantStatus.NONE, answered).act is Act.TRAIN else None

    def participate(self, round_id: int) -> Participation:
        """Train on the round's base and submit; a round closed meanwhile is skipped, not an error."""
        participation = Participation(round_id)
        timer = participation.timer
        with timer.phase("chain"):
            info = self.contract.round(round_id)
        if info.state is not RoundState.OPEN or info.base_cid is None:
            participation.skipped = str(RoundNotOpen(roundId=round_id, state=ROUND_STATE_WORDS[info.state]))
            return participation
        try:
            trained = self.train(info, timer)
        except RefusedBase as refusal:
            participation.skipped = str(refusal)
            self.log(f"client {self.address}: round {round_id}: {participation.skipped}")
            return participation
        base, plan, result, fisher = trained.base, trained.plan, trained.result, trained.fisher
        before, after = trained.accuracy_before, trained.accuracy_after
        record = trained.data_record
        with timer.phase("serialization"):
            samples = min(len(self.data), info.max_samples)  # the round's cap on what one update may claim
            metadata = update_metadata(base.metadata.architecture, round_id, samples, info.base_cid,
                                       self.settings.encoding)
            sections = {FISHER: fisher} if fisher is not None and plan.fedcurv_lambda > 0 else None
            update_bytes = encode_artifact(result.delta(base.tensors), metadata, sections)
        with timer.phase("ipfs"):
            update_cid = self.store.add_bytes(update_bytes)
        try:
            with timer.phase("chain"):
                receipt = self.contract.submit_update(round_id, update_cid, samples)
        except (DeadlinePassed, RoundNotOpen, SubmissionsClosed) as closed:
            participation.skipped = str(closed)
            self.log(f"client {self.address}: skipped round {round_id}: {closed}")
            return participation
        participation.entry = HistoryEntry(
            round=round_id, base_cid=str(info.base_cid), update_cid=str(update_cid), samples=samples,
            tx_hash=receipt.tx_hash, gas_used=receipt.gas_used, train_loss=result.stats.loss,
            local_accuracy_before=before, local_accuracy_after=after, data_version=record.version,
        )
        self.state.append_history(participation.entry)
        self.log(f"client {self.address}: round {round_id} submitted {update_cid} "
                 f"(local accuracy {before:.1%} -> {after:.1%})")
        return participation

    def train(self, info: RoundInfo, timer: PhaseTimer) -> LocalTraining:
        """Pull the round's base and train on it (plain and secure rounds alike); RefusedBase if unusable."""
        assert info.base_cid is not None
        round_id = info.round_id
        self.state.history()  # read after the submit: a damaged file must stop the client before it (ClientStateError)
        with timer.phase("ipfs"):
            base_bytes = self.store.get(info.base_cid)
        with timer.phase("serialization"):
            base = decode_artifact(base_bytes)
        task = self.task_of(base)
        plan = TrainingPlan.from_extra(base.metadata.extra)
        if (refusal := _refusal(base, plan)) is not None:
            raise RefusedBase(f"refused base {info.base_cid}: {refusal}")
        with timer.phase("training"):
            self.refresh_data()
            record, memory = self._follow_data(round_id, base)
        with timer.phase("evaluation"):
            before = evaluate(task.model_from_state(base.tensors), self.data).accuracy
        with timer.phase("training"):
            penalties = self._penalties(base, plan, memory)
            pause_if_asked("during-training")
            mu = plan.mu if self.settings.mu is None else self.settings.mu
            config = TrainConfig(plan.epochs, plan.batch_size, plan.lr, mu, seed=self._seed(round_id),
                                 momentum=plan.momentum)
            result = train_local(task.name, base.tensors, self.data, config, penalties)
            fisher = self._remember(task, result.state, round_id, plan, memory)
        with timer.phase("evaluation"):
            after = evaluate(task.model_from_state(result.state), self.data).accuracy
        return LocalTraining(base, task, plan, result, fisher, before, after, record)

    def task_of(self, base: Artifact) -> Task:
        """The installed task the base pins, if this client's data is that task's; else RefusedBase."""
        try:
            task = task_for_file(base.metadata.extra, base.metadata.architecture)
        except TaskMismatchError as error:
            raise RefusedBase(f"refused the round's base: {error}") from None
        if not task.reads_same_data_as(self.task):
            raise RefusedBase(f"refused the round's base: it trains task {task.name}, this client holds data "
                              f"for {self.task.name} (--task)")
        return task

    def _seed(self, round_id: int) -> int:
        text = f"{self.settings.seed}:{round_id}:{self.address}".encode()
        return int.from_bytes(hashlib.sha256(text).digest()[:4], "big")

    def refresh_data(self) -> None:
        """Reload the data directory when a file in it was added, removed or rewritten."""
        if self.data_dir is None:
            return
        signature = directory_signature(self.data_dir)
        if signature != self._data_signature:
            data = self.task.load_participant_data(self.data_dir)
            if len(data) == 0:
                raise DataError(f"{self.data_dir}: no training examples")
            self.data, self._data_signature = data, signature
            self.log(f"client {self.address}: loaded {len(data)} examples from {self.data_dir}")

    def _follow_data(self, round_id: int, base: Artifact) -> tuple[DataRecord, EwcMemory]:
        """Note which data this round trains on; consolidate first if it changed or the user asked."""
        record, memory = self.state.data_record(), self.state.ewc_memory()
        fingerprint = dataset_fingerprint(self.data)
        changed = record.fingerprint is not None and fingerprint != record.fingerprint
        if changed or record.consolidate_requested:
            samples = memory.consolidate(base.tensors, self.settings.ewc_decay)
            if samples:
                self.state.save_ewc_memory(memory)
                record.consolidations.append(Consolidation(round_id, samples, time.time(), record.version))
                self.log(f"client {self.address}: round {round_id}: consolidated the Fisher of data version "
                         f"{record.version} ({samples} samples), anchored at this round's base")
            record.consolidate_requested = False
        if record.fingerprint is None or changed:
            record.version += 1
        record.fingerprint = fingerprint
        self.state.save_data_record(record)
        return record, memory

    def _penalties(self, base: Artifact, plan: TrainingPlan, memory: EwcMemory) -> list[QuadraticPenalty]:
        penalties: list[QuadraticPenalty] = []
        if (ewc := memory.penalty(self.settings.ewc_lambda)) is not None:
            penalties.append(ewc)
        u, v = base.section(FEDCURV_U), base.section(FEDCURV_V)
        if plan.fedcurv_lambda > 0 and u is not None and v is not None:
            penalties.append(fedcurv_penalty((u, v), self._own_fedcurv_share(base), plan.fedcurv_lambda))
        return penalties

    def _own_fedcurv_share(self, base: Artifact) -> EwcState | None:
        """This client's contribution inside the base's u and v: only if it was accepted last round."""
        saved = self.state.fedcurv_contribution()
        if saved is None or saved[0] != base.metadata.round:
            return None
        record = HistoryReader(self.contract).round(saved[0])
        mine = [s for s in (record.submissions if record else []) if s.client == self.address]
        return saved[1] if mine and mine[0].accepted else None

    def _remember(self, task: Task, trained: dict[str, np.ndarray], round_id: int, plan: TrainingPlan,
                  memory: EwcMemory) -> dict[str, np.ndarray] | None:
        """The Fisher of the trained model on this round's data: pending in the EWC memory (what the
        next consolidation protects) and, for FedCurv, this client's published share."""
        if self.settings.ewc_lambda <= 0 and plan.fedcurv_lambda <= 0:
            return None
        fisher = fisher_diagonal(task.model_from_state(trained), self.data, self.settings.fisher_mode,
                                 seed=self._seed(round_id), max_samples=self.settings.fisher_samples)
        if self.settings.ewc_lambda > 0:
            memory.hold(fisher, min(len(self.data), self.settings.fisher_samples))
            self.state.save_ewc_memory(memory)
        if plan.fedcurv_lambda > 0:
            self.state.save_fedcurv_contribution(round_id, EwcState(fisher, trained))
        return fisher


def _refusal(base: Artifact, plan: TrainingPlan) -> str | None:
    """Why this client will not train on `base` (non-finite or absurd weights, e.g. a poisoned sum
    no one could inspect, or unusable FedCurv sections), or None."""
    for name, tensor in base.tensors.items():
        values = np.asarray(tensor)
        if not np.issubdtype(values.dtype, np.floating) or values.size == 0:
            continue
        if not np.all(np.isfinite(values)):
            return f"its tensor {name} holds NaN or infinite weights"
        if (largest := float(np.max(np.abs(values)))) > ABSURD_WEIGHT:
            return f"its tensor {name} holds a weight of {largest:.3g}, beyond {ABSURD_WEIGHT:g}: a poisoned model"
    return fedcurv_problem(base) if plan.fedcurv_lambda > 0 else None
