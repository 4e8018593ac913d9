"""Continual learning on permuted MNIST: which task a round trains on, and accuracy per task.

Every client switches task at the same round: rounds 1..R are task 0, R+1..2R task 1, and so on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from mlprocessor.data import Dataset, permuted_task
from mlprocessor.evaluation import evaluate


@dataclass(frozen=True)
class TaskSchedule:
    tasks: int
    rounds_per_task: int

    def __post_init__(self) -> None:
        if self.tasks < 1 or self.rounds_per_task < 1:
            raise ValueError("a continual schedule needs at least one task and one round per task")

    @property
    def rounds(self) -> int:
        return self.tasks * self.rounds_per_task

    def task_of(self, round_number: int) -> int:
        """The task of 1-based round ``round_number``."""
        if not 1 <= round_number <= self.rounds:
            raise ValueError(f"round {round_number} is outside 1..{self.rounds}")
        return (round_number - 1) // self.rounds_per_task


def task_accuracies(model: nn.Module, test: Dataset, tasks_seen: int) -> list[float]:
    """Test accuracy on each task 0..tasks_seen-1 (the test set permuted like that task)."""
    return [evaluate(model, permuted_task(test, task)).accuracy for task in range(tasks_seen)]


@dataclass(frozen=True)
class PermutedScenario:
    """Clients' data and test accuracies per task for a federation whose data is ``train`` split
    by ``parts`` (client k holds ``train[parts[k]]`` in every task, permuted like the task)."""

    schedule: TaskSchedule
    train: Dataset
    test: Dataset
    parts: Sequence[np.ndarray]

    def new_data(self, round_number: int) -> list[Dataset] | None:
        """Every client's data when ``round_number`` starts a task (round 1 included), else None."""
        task = self.schedule.task_of(round_number)
        if round_number > 1 and task == self.schedule.task_of(round_number - 1):
            return None
        data = permuted_task(self.train, task)
        return [data.subset(part) for part in self.parts]

    def report(self, round_number: int, model: nn.Module) -> dict[str, Any]:
        """The round's task and the model's accuracy on every task seen so far."""
        task = self.schedule.task_of(round_number)
        return {"task": task, "task_accuracies": task_accuracies(model, self.test, task + 1)}
