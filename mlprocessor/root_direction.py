"""The descent direction of the base model on the organization's own small root data set.

FLTrust (Cao et al. 2021, "FLTrust: Byzantine-robust Federated Learning via Trust Bootstrapping")
trusts an update by its cosine with an update the server computes on a small clean root data set;
Zeno (Xie et al. 2019) scores an update by the loss it removes on server-held data. Here the
reference is one exact gradient step's direction, minus the gradient of the task's loss on the
root set at the base model: a sign-flipped or reversed update points against it, while honest
updates, even on skewed (non-IID) data, rarely do by much. The screen that uses it lives in
mlprocessor/validation.py (`direction_problem`); it needs no torch.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from mlprocessor.data import Dataset
from mlprocessor.specs import StateDict
from mlprocessor.task import Task

MAX_ROOT_EXAMPLES = 2_000  # FLTrust needs about 100; more only costs time each round


def root_direction(task: Task, base: Mapping[str, np.ndarray], root: Dataset) -> StateDict:
    """Minus the mean loss gradient of `base` on (at most MAX_ROOT_EXAMPLES of) `root`, per tensor,
    float64; zero for tensors that are not trained parameters (buffers)."""
    if len(root) == 0:
        raise ValueError("the root data set is empty")
    model = task.model_from_state(dict(base))
    model.eval()  # a deterministic direction: no dropout, batch statistics as published
    x, y = root.subset(np.arange(min(len(root), MAX_ROOT_EXAMPLES))).tensors()
    names = [name for name, parameter in model.named_parameters() if parameter.requires_grad]
    parameters = [parameter for parameter in model.parameters() if parameter.requires_grad]
    gradients = torch.autograd.grad(task.loss(model(x), y), parameters)
    direction = {name: -gradient.detach().double().numpy() for name, gradient in zip(names, gradients, strict=True)}
    return {name: direction.get(name, np.zeros(np.shape(value))) for name, value in base.items()}
