"""`run.py demo --continual-tasks N --rounds-per-task R`: the demo as a continual scenario on permuted MNIST.

Task 0 is the plain images, task t a fixed pixel permutation seeded by t; every client switches
at the same round, and its EWC memory consolidates because its data fingerprint changed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from client.service import Client
from client.state import ClientState
from mlprocessor.continual import PermutedScenario, TaskSchedule
from mlprocessor.ewc import DEFAULT_EWC_LAMBDA
from mlprocessor.models import model_from_state
from organization.service import Organization
from protocol.errors import UserError
from storage.cid import Cid


def continual_schedule(args: argparse.Namespace) -> TaskSchedule:
    """The task schedule; sets ``args.rounds`` to tasks x rounds per task."""
    if args.continual_tasks < 1:
        raise UserError("--continual-tasks must be at least 1")
    if args.rounds_per_task is not None:
        if args.rounds_per_task < 1:
            raise UserError("--rounds-per-task must be at least 1")
        args.rounds = args.continual_tasks * args.rounds_per_task
    if args.rounds % args.continual_tasks:
        raise UserError(f"--rounds {args.rounds} does not split into {args.continual_tasks} tasks: "
                        "give --rounds-per-task")
    return TaskSchedule(args.continual_tasks, args.rounds // args.continual_tasks)


def demo_ewc_lambda(args: argparse.Namespace) -> float:
    """EWC is on by default when the data changes (several tasks), off on fixed data where it
    would never consolidate."""
    if args.ewc_lambda is not None:
        return args.ewc_lambda
    return DEFAULT_EWC_LAMBDA if args.continual_tasks > 1 else 0.0


def switch_data(clients: list[Client], scenario: PermutedScenario, round_number: int) -> None:
    if (data := scenario.new_data(round_number)) is not None:
        for client, part in zip(clients, data, strict=True):
            client.data = part


def task_announcement(scenario: PermutedScenario, round_number: int, ewc_lambda: float) -> str | None:
    """What changes at this round, said when a task starts (in a continual run only)."""
    schedule = scenario.schedule
    task = schedule.task_of(round_number)
    if schedule.tasks == 1 or (round_number - 1) % schedule.rounds_per_task:
        return None
    rounds = f"rounds {round_number}-{round_number + schedule.rounds_per_task - 1}"
    if task == 0:
        return f"task 0 of {schedule.tasks} ({rounds}): the plain images"
    memory = (f"each client consolidates EWC (lambda {ewc_lambda:g}) on what it learned of task {task - 1} "
              "before training" if ewc_lambda > 0 else "EWC is off (--ewc-lambda 0): nothing is consolidated")
    return f"task {task} of {schedule.tasks} ({rounds}): every client switches to pixel permutation {task}; {memory}"


def consolidation_report(state_root: Path, scenario: PermutedScenario, round_number: int) -> str | None:
    """How many clients consolidated in this round, read from their state (in a continual run only)."""
    if scenario.schedule.tasks == 1:
        return None
    records = [ClientState(directory).data_record() for directory in sorted(state_root.iterdir())]
    done = sum(any(c.round == round_number for c in record.consolidations) for record in records)
    if not done:
        return None
    return f"round {round_number}: {done}/{len(records)} clients consolidated their EWC memory"


def continual_report(organization: Organization, scenario: PermutedScenario, round_number: int,
                     result_cid: str | None) -> dict[str, Any]:
    """The round's task and its result's accuracy on each task seen so far (None if it was aborted)."""
    if result_cid is None:
        return {"task": scenario.schedule.task_of(round_number), "task_accuracies": None}
    tensors = organization.fetch_model(Cid.parse(result_cid)).tensors
    return scenario.report(round_number, model_from_state(organization.settings.task, tensors))
