"""A round's plan pins its task: parties refuse a task they do not have at that hash, and model
files published before tasks existed (no pin, no spec) still decode and verify."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mlprocessor.task_registry import TaskMismatchError, TaskRef, get_task
from protocol.aggregate import aggregate_state, result_file
from protocol.artifacts import decode_artifact, encode_artifact, model_metadata, spec_extra
from protocol.outages import RoundSettingsError
from protocol.plan import StrategySpec, TrainingPlan
from protocol.verification import verify_round
from tests.protocol.conftest import Federation, build_federation

PLAN = TrainingPlan(epochs=1, batch_size=10, lr=0.1)


def _publish_base(federation: Federation, pin: TaskRef | None, architecture: str = "mnist-2nn") -> str:
    """A base model as an organization would publish it, pinned to `pin` (None: the pre-task format)."""
    task = get_task("mnist-2nn")
    extra = PLAN.to_extra()
    if pin is not None:
        extra |= {**pin.to_extra(), **spec_extra(task.tensor_spec())}
    metadata = model_metadata(architecture, 0, 0, None, extra)
    return str(federation.store.add_bytes(encode_artifact(task.initial_state(0), metadata)))


def _open(federation: Federation, base_cid: str) -> int:
    contract = federation.organization.contract
    round_id, _ = contract.open_round(base_cid, contract.block_number() + 50, 2, 10_000)
    return round_id


@pytest.fixture
def foreign_pin() -> TaskRef:
    """mnist-2nn as another machine might have it: same name and version, other code."""
    return replace(TaskRef.of("mnist-2nn"), hash="0" * 64)


def test_a_client_refuses_a_round_pinned_to_code_it_does_not_have(tmp_path: Path, foreign_pin: TaskRef) -> None:
    federation = build_federation(tmp_path)
    round_id = _open(federation, _publish_base(federation, foreign_pin))
    participation = federation.clients[0].participate(round_id)
    assert participation.entry is None
    assert "pins task mnist-2nn 1.0 (000000000000)" in participation.skipped
    assert "install that exact version" in participation.skipped


def test_a_client_refuses_a_task_it_has_not_installed(tmp_path: Path) -> None:
    federation = build_federation(tmp_path)
    round_id = _open(federation, _publish_base(federation, TaskRef("speech-commands", "2.0", "ab" * 32)))
    skipped = federation.clients[0].participate(round_id).skipped
    assert "task 'speech-commands' is not installed here" in skipped


def test_the_organization_refuses_a_base_pinned_to_other_code(tmp_path: Path, foreign_pin: TaskRef) -> None:
    federation = build_federation(tmp_path)
    _open(federation, _publish_base(federation, foreign_pin))
    with pytest.raises(RoundSettingsError, match=r"pins task mnist-2nn 1\.0 .* this machine has mnist-2nn 1\.0"):
        federation.organization.screen_new(1)


def test_the_pin_names_the_installed_source() -> None:
    pin = TaskRef.of("mnist-cnn")
    assert pin.require_installed().name == "mnist-cnn"
    assert len(pin.hash) == 64 and all(c in "0123456789abcdef" for c in pin.hash)
    with pytest.raises(TaskMismatchError, match="not installed here"):
        TaskRef("no-such-task", "1", "00").require_installed()


def test_published_models_carry_their_pin_and_spec(tmp_path: Path) -> None:
    federation = build_federation(tmp_path)
    data = federation.store.get(federation.organization.initial_model_cid())
    base = decode_artifact(data)  # by the spec the file publishes, without the task
    assert TaskRef.from_extra(base.metadata.extra, base.metadata.architecture) == TaskRef.of("mnist-2nn")
    assert {k: (v.shape, "float32") for k, v in base.tensors.items()} == get_task("mnist-2nn").tensor_spec()


def test_a_history_in_the_format_before_tasks_still_verifies(tmp_path: Path) -> None:
    """Base, updates and result as the code before tasks wrote them: architecture "2nn", no pin,
    no spec; the result aggregated and finalized as that code did."""
    federation = build_federation(tmp_path)
    base_cid = _publish_base(federation, None, architecture="2nn")
    round_id = _open(federation, base_cid)
    for client in federation.clients[:2]:
        assert client.participate(round_id).entry is not None
    contract = federation.organization.contract
    contract.close_submissions(round_id, contract.recorded_digest(round_id))
    base = decode_artifact(federation.store.get(base_cid))
    record = federation.organization.history.round(round_id)
    accepted = [(s.client, decode_artifact(federation.store.get(s.cid))) for s in record.submissions]
    assert all(update.metadata.architecture == "2nn" for _, update in accepted)
    strategy = StrategySpec()
    aggregate = aggregate_state(base, accepted, strategy)
    result = result_file(base, base_cid, round_id, aggregate, strategy, PLAN.to_extra())
    contract.finalize_round(round_id, federation.store.add_bytes(result), [True, True],
                            contract.recorded_digest(round_id))
    check = verify_round(contract, federation.store, round_id)
    assert check.ok, check.message
