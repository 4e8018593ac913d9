"""The organization's side of the round protocol, restartable at any point.

Everything it decides is derived from the chain and IPFS: the next base model is the last
finalized result (or the seeded initial model), an open round is resumed, and aggregation is
deterministic, so a restart finalizes a pending round exactly once with the same result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chain.contract import FederatedLearningContract, RoundInfo, RoundState
from chain.errors import InvalidAcceptedSet
from chain.history import HistoryReader, RoundRecord
from chain.transactions import TxResult
from mlprocessor.data import Dataset
from mlprocessor.evaluation import evaluate
from mlprocessor.models import initial_state, model_from_state, tensor_spec
from mlprocessor.validation import ValidationConfig, validate_updates
from protocol.aggregate import aggregate_state, client_updates, result_file
from protocol.artifacts import Artifact, decode_artifact, encode_artifact, expect_update_for, model_metadata
from protocol.faults import pause_if_asked
from protocol.plan import StrategySpec, TrainingPlan
from protocol.timing import PhaseTimer
from storage.cid import Cid
from storage.model_file import ModelFileError
from storage.store import ContentStore, StorageError

CLOSE_ATTEMPTS = 3


@dataclass(frozen=True)
class OrganizationSettings:
    model: str = "cnn"
    strategy: StrategySpec = field(default_factory=StrategySpec)
    plan: TrainingPlan = field(default_factory=TrainingPlan)
    quorum: int = 1  # the chain refuses to finalize with fewer submissions
    target: int = 1  # close as soon as this many updates arrived; else wait for the deadline
    deadline_blocks: int = 60
    seed: int = 0
    validation: ValidationConfig = field(default_factory=ValidationConfig)


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
    timer: PhaseTimer = field(default_factory=PhaseTimer)

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.round_id, "state": str(self.state), "base_cid": str(self.base_cid),
            "result_cid": str(self.result_cid) if self.result_cid else None,
            "accepted": self.accepted, "rejections": {str(i): r for i, r in self.rejections.items()},
            "accuracy": self.accuracy, "loss": self.loss, "tx_hash": self.tx_hash, "gas_used": self.gas_used,
        }


class Organization:
    """Drives rounds on one contract with one content store."""

    def __init__(self, contract: FederatedLearningContract, store: ContentStore, settings: OrganizationSettings,
                 test_data: Dataset | None, log: Callable[[str], None] = print) -> None:
        self.contract = contract
        self.store = store
        self.settings = settings
        self.test_data = test_data
        self.log = log
        self.history = HistoryReader(contract)

    # ---------------------------------------------------------------- models

    def initial_model_cid(self) -> Cid:
        """Publish the seeded initial model (idempotent: same seed, same bytes, same CID)."""
        settings = self.settings
        metadata = model_metadata(settings.model, 0, 0, None, settings.plan.to_extra())
        return self.store.add_bytes(encode_artifact(initial_state(settings.model, settings.seed), metadata))

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
            return decode_artifact(data, self.settings.model)

    # ---------------------------------------------------------------- rounds

    def current_round(self) -> RoundInfo | None:
        count = self.contract.round_count()
        if count == 0:
            return None
        info = self.contract.round(count)
        return info if info.state is RoundState.OPEN else None

    def open_round(self) -> tuple[int, TxResult]:
        base = self.next_base_cid()
        deadline = self.contract.block_number() + self.settings.deadline_blocks
        round_id, result = self.contract.open_round(base, deadline, self.settings.quorum)
        self.log(f"round {round_id}: opened on {base}, deadline block {deadline}, quorum {self.settings.quorum}")
        return round_id, result

    def ready_to_close(self, info: RoundInfo) -> bool:
        deadline_passed = self.contract.block_number() > info.deadline
        return info.submissions >= self.settings.target or deadline_passed

    def close_round(self, round_id: int) -> RoundOutcome:
        """Finalize with the valid updates if the quorum is met, else abort.

        An update that lands while the round is being aggregated changes the size of the accepted
        set the contract expects; the contract refuses, and the round is aggregated again with it.
        """
        for _ in range(CLOSE_ATTEMPTS - 1):
            try:
                return self._close(round_id)
            except InvalidAcceptedSet:
                self.log(f"round {round_id}: an update arrived during aggregation; aggregating again")
        return self._close(round_id)

    def _close(self, round_id: int) -> RoundOutcome:
        info = self.contract.round(round_id)
        outcome = RoundOutcome(round_id, info.state, info.base_cid)
        if info.state is not RoundState.OPEN:
            return outcome
        if info.submissions < info.quorum:
            return self._abort(outcome, f"{info.submissions} of {info.quorum} required updates")
        with outcome.timer.phase("chain"):
            record = self.history.round(round_id, with_gas=False)
        assert record is not None
        base = self.fetch_model(info.base_cid, outcome.timer)
        updates = self._screen(record, outcome)
        if not any(outcome.accepted):
            return self._abort(outcome, "no update passed validation")
        accepted = [(record.submissions[i].client, updates[i]) for i, ok in enumerate(outcome.accepted) if ok]
        with outcome.timer.phase("aggregation"):
            aggregate = aggregate_state(base, accepted, self.settings.strategy)
        extra = self.settings.plan.to_extra()
        if self.test_data is not None:
            with outcome.timer.phase("evaluation"):
                evaluation = evaluate(model_from_state(self.settings.model, aggregate.tensors), self.test_data)
            outcome.accuracy, outcome.loss = evaluation.accuracy, evaluation.loss
            extra.update({"test_accuracy": round(evaluation.accuracy, 6), "test_loss": round(evaluation.loss, 6)})
        with outcome.timer.phase("serialization"):
            data = result_file(base, info.base_cid, round_id, aggregate, accepted, self.settings.strategy, extra)
        with outcome.timer.phase("ipfs"):
            outcome.result_cid = self.store.add_bytes(data)
        self.log(f"round {round_id}: aggregated -> {outcome.result_cid}")
        pause_if_asked("before-finalize")
        with outcome.timer.phase("chain"):
            result = self.contract.finalize_round(round_id, outcome.result_cid, outcome.accepted)
        outcome.state, outcome.tx_hash, outcome.gas_used = RoundState.FINALIZED, result.tx_hash, result.gas_used
        accuracy = f", test accuracy {outcome.accuracy:.2%}" if outcome.accuracy is not None else ""
        self.log(f"round {round_id}: finalized with {sum(outcome.accepted)}/{len(outcome.accepted)} updates "
                 f"-> {outcome.result_cid}{accuracy}")
        return outcome

    def _screen(self, record: RoundRecord, outcome: RoundOutcome) -> dict[int, Artifact]:
        """Fetch, decode and validate each submission; every rejection gets a reason."""
        readable: dict[int, Artifact] = {}
        for submission in record.submissions:
            try:
                with outcome.timer.phase("ipfs"):
                    data = self.store.get(submission.cid)
                with outcome.timer.phase("serialization"):
                    artifact = decode_artifact(data, self.settings.model)
                expect_update_for(artifact, record.round_id, record.base_cid, submission.samples)
                readable[submission.index] = artifact
            except (StorageError, ModelFileError) as error:
                outcome.rejections[submission.index] = f"unusable file: {error}"
        indices = sorted(readable)
        with outcome.timer.phase("aggregation"):
            report = validate_updates(
                client_updates([(record.submissions[i].client, readable[i]) for i in indices]),
                tensor_spec(self.settings.model), self.settings.validation,
            )
        for rejection in report.rejected:
            outcome.rejections[indices[rejection.index]] = rejection.reason
        outcome.accepted = [s.index in readable and s.index not in outcome.rejections for s in record.submissions]
        for index, reason in sorted(outcome.rejections.items()):
            self.log(f"round {record.round_id}: rejected update {index} ({record.submissions[index].client}): {reason}")
        return readable

    def _abort(self, outcome: RoundOutcome, why: str) -> RoundOutcome:
        with outcome.timer.phase("chain"):
            result = self.contract.abort_round(outcome.round_id)
        outcome.state, outcome.tx_hash, outcome.gas_used = RoundState.ABORTED, result.tx_hash, result.gas_used
        self.log(f"round {outcome.round_id}: aborted ({why})")
        return outcome

    # ---------------------------------------------------------------- the loop

    def run(self, rounds: int, poll_seconds: float = 1.0, on_outcome: Callable[[RoundOutcome], None] | None = None,
            should_stop: Callable[[], bool] = lambda: False) -> None:
        """Run until `rounds` rounds are closed, resuming an open round first (restart safety)."""
        closed = 0
        while closed < rounds and not should_stop():
            info = self.current_round()
            if info is None:
                self.open_round()
                continue
            if not self.ready_to_close(info):
                self.contract.chain.tick()
                time.sleep(poll_seconds)
                continue
            outcome = self.close_round(info.round_id)
            closed += 1
            if on_outcome:
                on_outcome(outcome)
