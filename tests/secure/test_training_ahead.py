"""A secure-round participant trains in the background while the participant and masking sets form
(the join and share phases), once, so that the submission phase only masks and publishes and a long
training never makes it miss the share phase; a masked update that lands after the submission phase
anyway is said in one line, never silently dropped."""

from __future__ import annotations

import subprocess
import sys
import threading

from chain.contract import ParticipantStatus
from chain.paths import REPO_ROOT
from organization.secure_local import advance_past
from tests.secure.conftest import SecureFederation, open_and_share


def _count_training(federation: SecureFederation, monkeypatch) -> list[int]:
    """The block at which each participant's training started, in call order."""
    blocks: list[int] = []
    contract = federation.organization.contract
    for participant in federation.participants:
        train = participant.client.train

        def counted(info, timer, train=train):
            blocks.append(contract.block_number())
            return train(info, timer)

        monkeypatch.setattr(participant.client, "train", counted)
    return blocks


def test_participants_train_in_the_join_phase_once_and_submit_without_training_again(federation, monkeypatch):
    contract = federation.organization.contract
    trained_at = _count_training(federation, monkeypatch)
    round_id, _ = federation.driver.secure_rounds().open_round()
    deadlines = contract.secure_round(round_id).deadlines
    steps = [[p.step(round_id).action for _ in range(3)] for p in federation.participants]
    assert steps == [["joined", "training", "wait"]] * len(federation.participants)  # started once
    assert {p.trained_ahead(round_id).action for p in federation.participants} == {"trained"}
    assert len(trained_at) == len(federation.participants) and max(trained_at) <= deadlines.join
    advance_past(contract, deadlines.join)
    assert {p.step(round_id).action for p in federation.participants} == {"shared"}
    advance_past(contract, deadlines.share)
    assert {p.step(round_id).action for p in federation.participants} == {"submitted"}
    assert len(trained_at) == len(federation.participants)  # nobody trained twice
    statuses = contract.participant_statuses(round_id, [p.address for p in federation.participants])
    assert set(statuses) == {ParticipantStatus.SUBMITTED}


def test_a_masked_update_after_the_submission_phase_is_said_in_one_line(federation):
    contract = federation.organization.contract
    round_id, deadlines = open_and_share(federation)
    advance_past(contract, deadlines.submit)  # its training outlasted the submission phase
    late = federation.participants[0]
    submission = late.submit(round_id)
    assert submission.step.action == "dropped"
    said = [line for line in federation.log if "came too late" in line]
    assert len(said) == 1 and late.address in said[0] and f"secure round {round_id}" in said[0]


def test_a_training_that_outlasts_the_submission_phase_is_said_in_one_line(federation):
    contract = federation.organization.contract
    round_id, _ = federation.driver.secure_rounds().open_round()
    deadlines = contract.secure_round(round_id).deadlines
    slow = federation.participants[0]
    assert slow.step(round_id).action == "joined"
    advance_past(contract, deadlines.submit)  # as if training took that long
    assert slow.prepare(round_id).action == "training"
    step = slow.trained_ahead(round_id)
    assert step.action == "dropped" and "outlasted the submission phase" in step.detail
    assert [line for line in federation.log if "outlasted" in line] == [f"client {slow.address}: {step.detail}"]
    assert slow.step(round_id).action == "dropped"  # nothing more to do: it never shared, so it is not masked


def test_a_participant_still_training_posts_its_shares_on_time_then_submits(federation, monkeypatch):
    """Training on a loaded machine can outlast the join and share phases: it runs beside them."""
    contract = federation.organization.contract
    slow = federation.participants[0]
    release = threading.Event()
    train = slow.client.train

    def held(info, timer):
        assert release.wait(60), "the test never released the training"
        return train(info, timer)

    monkeypatch.setattr(slow.client, "train", held)
    round_id, _ = federation.driver.secure_rounds().open_round()
    deadlines = contract.secure_round(round_id).deadlines
    for participant in federation.participants:
        assert [participant.step(round_id).action for _ in range(2)] == ["joined", "training"]
    advance_past(contract, deadlines.join)
    assert {p.step(round_id).action for p in federation.participants} == {"shared"}  # slow is still training
    assert contract.participant_status(round_id, slow.address) is ParticipantStatus.SHARED
    release.set()
    advance_past(contract, deadlines.share)
    assert {p.step(round_id).action for p in federation.participants} == {"submitted"}


def test_a_client_stopping_never_waits_for_a_training_ahead() -> None:
    """Ctrl-C or SIGTERM ends a client at once, even while it trains ahead (the bound is for a failing test)."""
    script = ("import threading, time\n"
              "from cli.exiting import exit_without_teardown\n"
              "from client.secure import in_background\n"
              "started = threading.Event()\n"
              "in_background(lambda: (started.set(), time.sleep(600)), 'a long training')\n"
              "started.wait()\n"
              "exit_without_teardown(0)\n")
    finished = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                              timeout=120)
    assert finished.returncode == 0, finished.stderr
