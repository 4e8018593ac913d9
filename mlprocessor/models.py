"""The two models of McMahan et al. 2017 and conversions between modules and numpy state dicts.

`StateDict` and `tensor_spec` live in mlprocessor.specs (no torch) and are re-exported here."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import nn

from mlprocessor.specs import StateDict, tensor_spec

__all__ = ["ARCHITECTURES", "StateDict", "build_model", "initial_state", "load_numpy_state", "model_from_state",
           "parameter_count", "state_to_numpy", "tensor_spec"]


def _mlp_2nn() -> nn.Module:
    return nn.Sequential(OrderedDict(
        fc1=nn.Linear(784, 200), relu1=nn.ReLU(),
        fc2=nn.Linear(200, 200), relu2=nn.ReLU(),
        out=nn.Linear(200, 10),
    ))


def _cnn() -> nn.Module:
    return nn.Sequential(OrderedDict(
        image=nn.Unflatten(1, (1, 28, 28)),
        conv1=nn.Conv2d(1, 32, 5, padding=2), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),
        conv2=nn.Conv2d(32, 64, 5, padding=2), relu2=nn.ReLU(), pool2=nn.MaxPool2d(2),
        flat=nn.Flatten(),
        fc1=nn.Linear(7 * 7 * 64, 512), relu3=nn.ReLU(),
        out=nn.Linear(512, 10),
    ))


ARCHITECTURES: dict[str, Callable[[], nn.Module]] = {"2nn": _mlp_2nn, "cnn": _cnn}


def build_model(name: str, seed: int = 0) -> nn.Module:
    """A freshly initialised model; the same (name, seed) always gives the same weights."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown model {name!r}; expected one of {', '.join(ARCHITECTURES)}")
    with torch.random.fork_rng(devices=[]):  # leave the caller's global RNG untouched
        torch.manual_seed(seed)
        return ARCHITECTURES[name]()


def state_to_numpy(model: nn.Module) -> StateDict:
    """Copy a module's state into independent float32 numpy arrays."""
    return {k: v.detach().cpu().numpy().astype(np.float32, copy=True) for k, v in model.state_dict().items()}


def load_numpy_state(model: nn.Module, state: Mapping[str, np.ndarray]) -> nn.Module:
    """Load a numpy state dict into ``model`` (strict: names and shapes must match)."""
    model.load_state_dict({k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in state.items()})
    return model


def model_from_state(name: str, state: Mapping[str, np.ndarray]) -> nn.Module:
    return load_numpy_state(build_model(name), state)


def initial_state(name: str, seed: int = 0) -> StateDict:
    return state_to_numpy(build_model(name, seed))


def parameter_count(name: str) -> int:
    return sum(int(np.prod(shape)) for shape, _ in tensor_spec(name).values())
