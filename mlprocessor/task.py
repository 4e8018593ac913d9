"""The task interface: what a federation trains and how.

A task is code that every participant installs (a built-in module under `tasks/`, or a Python
package exposing an entry point in the group `fedchain.tasks`); it is never fetched from the
network. It says everything about learning that the protocol leaves open: the model (built from
a seed, so every party derives the same initial weights), how a participant's data is read, the
loss, the metrics, the optimiser, and the defaults for training and for screening updates. The
protocol itself only ever sees tensors and their spec (names, shapes, dtypes), which travel in the
base model's metadata: aggregation, screening, masking and `verify` never import a task.

Tasks are classification tasks: the model maps a batch of examples to one row of logits per
example, and the targets are class indices. EWC's and FedCurv's Fisher diagonals, accuracy and
per-class accuracy all follow from that.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mlprocessor.data import Dataset
from mlprocessor.local_sgd import LocalSgd
from mlprocessor.specs import StateDict, TensorSpec
from mlprocessor.task_defaults import ScreeningDefaults, TrainingDefaults


class LocalOptimizer(Protocol):
    """What local training asks of an optimiser (LocalSgd, or any torch.optim optimizer)."""

    def zero_grad(self, set_to_none: bool = True) -> None: ...

    def step(self) -> Any: ...


class Task(ABC):
    """One federated learning task; subclasses set the class attributes and the two abstract methods.

    `version` is the task author's; the hash of the task's source (see
    mlprocessor.task_registry.source_hash) is what parties pin, so that two parties never train
    different code under the same name and version.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1.0"
    summary: ClassVar[str] = ""
    data_source: ClassVar[str] = ""  # where the task's bundled data comes from, for `run.py task list`
    num_classes: ClassVar[int]
    data_family: ClassVar[str] = ""  # tasks that read the same data share it (e.g. both MNIST models); "" = name
    training: ClassVar[TrainingDefaults] = TrainingDefaults()
    screening: ClassVar[ScreeningDefaults] = ScreeningDefaults()
    source_modules: ClassVar[tuple[str, ...]] = ()  # extra modules whose source the hash covers

    @abstractmethod
    def create_model(self) -> nn.Module:
        """A fresh model; called under a fixed torch seed by :meth:`build_model`."""

    @abstractmethod
    def load_data(self, source: str | None = None, test_source: str | None = None) -> tuple[Dataset, Dataset]:
        """(train, test) examples: `source` None means the task's bundled data set; otherwise a
        path the user gave (a file or directory in the task's format)."""

    def load_participant_data(self, path: str | Path) -> Dataset:
        """A participant's own training data from a file or directory (`run.py client --data`)."""
        return self.load_data(str(path))[0]

    def natural_partition(self, data: Dataset, num_clients: int) -> list[np.ndarray] | None:
        """Index sets of a partition the data comes with (e.g. one client per speaker), or None."""
        return None

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The mean training loss of a batch."""
        return F.cross_entropy(logits, targets)

    def optimizer(self, parameters: Iterable[nn.Parameter], lr: float, momentum: float) -> LocalOptimizer:
        """The local optimiser; the proximal steps of EWC, FedProx and FedCurv follow each of its steps.
        Plain SGD by default (torch.optim.SGD's step without its import cost); any torch.optim
        optimizer will do."""
        return LocalSgd(parameters, lr, momentum)

    def describe_data(self, data: Dataset) -> dict[str, object]:
        """A short summary of a participant's data for the client page: examples and examples per class."""
        counts = np.bincount(data.y, minlength=self.num_classes) if len(data) else np.zeros(self.num_classes, int)
        return {"examples": len(data), "classes": int((counts > 0).sum()),
                "per_class": [int(c) for c in counts]}

    # -- derived: the same for every task ------------------------------------------------------

    def reads_same_data_as(self, other: Task) -> bool:
        return (self.data_family or self.name) == (other.data_family or other.name)

    def build_model(self, seed: int = 0) -> nn.Module:
        """A freshly initialised model; the same (task, seed) always gives the same weights."""
        with torch.random.fork_rng(devices=[]):  # leave the caller's global RNG untouched
            torch.manual_seed(seed)
            return self.create_model()

    def tensor_spec(self) -> TensorSpec:
        """Tensor name -> (shape, dtype) of the model's state, in `state_dict` order."""
        return {name: (tuple(value.shape), "float32") for name, value in self.create_model().state_dict().items()}

    def initial_state(self, seed: int = 0) -> StateDict:
        return state_to_numpy(self.build_model(seed))

    def model_from_state(self, state: dict[str, np.ndarray]) -> nn.Module:
        return load_numpy_state(self.create_model(), state)


def state_to_numpy(model: nn.Module) -> StateDict:
    """Copy a module's state into independent float32 numpy arrays."""
    return {k: v.detach().cpu().numpy().astype(np.float32, copy=True) for k, v in model.state_dict().items()}


def load_numpy_state(model: nn.Module, state: dict[str, np.ndarray]) -> nn.Module:
    """Load a numpy state dict into ``model`` (strict: names and shapes must match)."""
    model.load_state_dict({k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in state.items()})
    return model
