"""`run.py demo --tasks N --rounds-per-task R`: the demo as a continual scenario on permuted MNIST.

Task 0 is the plain images, task t a fixed pixel permutation seeded by t; every client switches
at the same round, and its EWC memory consolidates because its data fingerprint changed.
"""

from __future__ import annotations

import argparse
from typing import Any

from client.service import Client
from mlprocessor.continual import PermutedScenario, TaskSchedule
from mlprocessor.ewc import DEFAULT_EWC_LAMBDA
from mlprocessor.models import model_from_state
from organization.service import Organization
from protocol.errors import UserError
from storage.cid import Cid


def continual_schedule(args: argparse.Namespace) -> TaskSchedule:
    """The task schedule; sets ``args.rounds`` to tasks x rounds per task."""
    if args.tasks < 1:
        raise UserError("--tasks must be at least 1")
    if args.rounds_per_task is not None:
        if args.rounds_per_task < 1:
            raise UserError("--rounds-per-task must be at least 1")
        args.rounds = args.tasks * args.rounds_per_task
    if args.rounds % args.tasks:
        raise UserError(f"--rounds {args.rounds} does not split into {args.tasks} tasks: give --rounds-per-task")
    return TaskSchedule(args.tasks, args.rounds // args.tasks)


def demo_ewc_lambda(args: argparse.Namespace) -> float:
    """EWC is on by default when the data changes (several tasks), off on fixed data where it
    would never consolidate."""
    if args.ewc_lambda is not None:
        return args.ewc_lambda
    return DEFAULT_EWC_LAMBDA if args.tasks > 1 else 0.0


def switch_data(clients: list[Client], scenario: PermutedScenario, round_number: int) -> None:
    if (data := scenario.new_data(round_number)) is not None:
        for client, part in zip(clients, data, strict=True):
            client.data = part


def continual_report(organization: Organization, scenario: PermutedScenario, round_number: int,
                     result_cid: str | None) -> dict[str, Any]:
    """The round's task and its result's accuracy on each task seen so far (None if it was aborted)."""
    if result_cid is None:
        return {"task": scenario.schedule.task_of(round_number), "task_accuracies": None}
    tensors = organization.fetch_model(Cid.parse(result_cid)).tensors
    return scenario.report(round_number, model_from_state(organization.settings.model, tensors))
