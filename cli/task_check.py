"""`run.py task check`: what the protocol relies on a task for, tried on one batch.

The task's code is the installer's, not the network's, but it may still be wrong: every step's
failure is one line naming the step (`task check NAME: STEP: ...`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from cli.common import UserError
from mlprocessor.data import Dataset
from mlprocessor.task import Task, state_to_numpy


@contextmanager
def _step(task: Task, what: str) -> Iterator[None]:
    try:
        yield
    except UserError:
        raise
    except Exception as error:
        raise UserError(f"task check {task.name}: {what}: {error}") from None


def _fail(task: Task, what: str, problem: str) -> UserError:
    return UserError(f"task check {task.name}: {what}: {problem}")


def check_task(task: Task, data_path: str | None, seed: int) -> Iterator[str]:
    """Run the checks, yielding a line for each one passed; UserError at the first that fails."""
    with _step(task, "building the model"):
        model, state = task.build_model(seed), state_to_numpy(task.build_model(seed))
        spec = task.tensor_spec()
    yield _check_state(task, model, state, spec, seed)
    with _step(task, "loading the data"):
        if data_path is None:
            train, test = task.load_data()
            origin = f"the bundled data: {len(train):,} training and {len(test):,} test examples"
        else:
            train = task.load_participant_data(data_path)
            origin = f"{data_path}: {len(train):,} examples"
    yield f"data: {origin}, {_check_examples(task, train)}"
    with _step(task, "training one batch"):
        yield _one_batch(task, model, train, seed)


def _check_state(task: Task, model: torch.nn.Module, state: dict[str, np.ndarray],
                 spec: dict[str, tuple[tuple[int, ...], str]], seed: int) -> str:
    what = "the model's state"
    for name, value in model.state_dict().items():
        if value.dtype != torch.float32:
            raise _fail(task, what, f"{name} is {value.dtype}: only float32 state travels (no integer buffers "
                                    "such as BatchNorm's num_batches_tracked)")
    if {name: (v.shape, "float32") for name, v in state.items()} != dict(spec):
        raise _fail(task, what, "it differs from the task's tensor_spec()")
    first = state_to_numpy(model)
    if any(not np.array_equal(first[name], state[name]) for name in state):
        raise _fail(task, what, f"two models built from seed {seed} differ: build the model from torch's seed only")
    values = sum(v.size for v in state.values())
    return f"model: {values:,} values in {len(state)} float32 tensors, the same twice from seed {seed}"


def _check_examples(task: Task, data: Dataset) -> str:
    what = "the data"
    if len(data) == 0:
        raise _fail(task, what, "no examples")
    if data.y.dtype != np.int64 or data.y.min() < 0 or data.y.max() >= task.num_classes:
        raise _fail(task, what, f"labels must be int64 class indices 0..{task.num_classes - 1}")
    if data.x.dtype not in (np.float32, np.int64):
        raise _fail(task, what, f"examples are {data.x.dtype}: float32 features or int64 tokens expected")
    if data.x.dtype == np.float32 and not np.isfinite(data.x).all():
        raise _fail(task, what, "examples hold values that are not finite")
    present = len(np.unique(data.y))
    return f"examples of shape {data.x.shape[1:]}, {present} of {task.num_classes} classes present"


def _one_batch(task: Task, model: torch.nn.Module, data: Dataset, seed: int) -> str:
    what = "training one batch"
    defaults = task.training
    generator = torch.Generator().manual_seed(seed)
    batch = torch.randperm(len(data), generator=generator)[:defaults.batch_size]
    x, y = data.tensors()
    model.train()
    logits = model(x[batch])
    if tuple(logits.shape) != (len(batch), task.num_classes):
        raise _fail(task, what, f"logits of shape {tuple(logits.shape)}, expected ({len(batch)}, "
                                f"{task.num_classes}): one row of logits per example")
    loss = task.loss(logits, y[batch])
    if loss.ndim != 0 or not torch.isfinite(loss):
        raise _fail(task, what, f"the loss is {loss.detach()}: a finite scalar expected")
    optimizer = task.optimizer(model.parameters(), defaults.lr, defaults.momentum)
    before = state_to_numpy(model)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    after = state_to_numpy(model)
    if not all(np.isfinite(v).all() for v in after.values()):
        raise _fail(task, what, "the step left values that are not finite")
    if all(np.array_equal(before[name], after[name]) for name in before):
        raise _fail(task, what, "the optimiser's step changed no weight")
    return (f"one batch of {len(batch)} (lr {defaults.lr:g}, momentum {defaults.momentum:g}): loss "
            f"{float(loss.detach()):.4f}, the optimiser's step moved the weights, all finite")
