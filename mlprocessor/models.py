"""Models by task name, and conversions between modules and numpy state dicts.

Every model belongs to a task (mlprocessor.task); a legacy architecture name ("2nn", "cnn") maps
to its MNIST task, so model files published before tasks still load.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from torch import nn

from mlprocessor.specs import StateDict
from mlprocessor.task import load_numpy_state, state_to_numpy
from mlprocessor.task_registry import get_task

__all__ = ["StateDict", "build_model", "initial_state", "load_numpy_state", "model_from_state",
           "parameter_count", "state_to_numpy"]


def build_model(name: str, seed: int = 0) -> nn.Module:
    """A freshly initialised model of task `name`; the same (name, seed) always gives the same weights."""
    return get_task(name).build_model(seed)


def model_from_state(name: str, state: Mapping[str, np.ndarray]) -> nn.Module:
    return get_task(name).model_from_state(dict(state))


def initial_state(name: str, seed: int = 0) -> StateDict:
    return get_task(name).initial_state(seed)


def parameter_count(name: str) -> int:
    return sum(int(np.prod(shape)) for shape, _ in get_task(name).tensor_spec().values())
