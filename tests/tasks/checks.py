"""Checks every task must pass: seeded models, the spec, and learning with its own optimiser and loss."""

from __future__ import annotations

import numpy as np
import torch

from mlprocessor.data import Dataset
from mlprocessor.task import Task


def assert_seeded_model(task: Task) -> None:
    """Same seed, same weights; another seed, other weights; the spec matches the state."""
    first, again, other = task.initial_state(3), task.initial_state(3), task.initial_state(4)
    assert first.keys() == again.keys() == task.tensor_spec().keys()
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert any(not np.array_equal(first[k], other[k]) for k in first)
    assert {k: (v.shape, str(v.dtype)) for k, v in first.items()} == task.tensor_spec()


def assert_logits_shape(task: Task, data: Dataset) -> None:
    x, _ = data.subset(np.arange(7)).tensors()
    with torch.no_grad():
        assert tuple(task.build_model(0)(x).shape) == (7, task.num_classes)


def mean_loss(task: Task, model: torch.nn.Module, data: Dataset) -> float:
    x, y = data.tensors()
    with torch.no_grad():
        return float(task.loss(model(x), y))


def assert_one_epoch_lowers_loss(task: Task, data: Dataset) -> None:
    """One epoch of the task's own optimiser and loss, at its default settings, on `data`."""
    model = task.build_model(0)
    before = mean_loss(task, model, data)
    optimizer = task.optimizer(model.parameters(), task.training.lr, task.training.momentum)
    x, y = data.tensors()
    for start in range(0, len(data), task.training.batch_size):
        batch = slice(start, start + task.training.batch_size)
        optimizer.zero_grad()
        task.loss(model(x[batch]), y[batch]).backward()
        optimizer.step()
    assert mean_loss(task, model, data) < before
