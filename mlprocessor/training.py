"""Local training: plain minibatch SGD with optional quadratic penalties (FedProx, EWC, FedCurv)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from mlprocessor.data import Dataset
from mlprocessor.specs import StateDict
from mlprocessor.task import state_to_numpy
from mlprocessor.task_registry import get_task


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 5
    batch_size: int = 10
    lr: float = 0.05
    mu: float = 0.0  # FedProx proximal weight; 0 disables it
    seed: int = 0
    momentum: float = 0.0


@dataclass(frozen=True)
class TrainStats:
    loss: float  # mean data loss over the last epoch's minibatches (penalties excluded)
    samples: int
    steps: int
    seconds: float


@dataclass(frozen=True)
class TrainResult:
    state: StateDict
    stats: TrainStats

    def delta(self, base: Mapping[str, np.ndarray]) -> StateDict:
        """The incremental update theta_k - theta_base that a client publishes."""
        return {k: (v - base[k]).astype(np.float32) for k, v in self.state.items()}


class QuadraticPenalty:
    """(strength/2) * sum_i w_i (theta_i - anchor_i)^2: FedProx with w = 1, EWC with w = Fisher.

    Applied as an exact proximal step after each SGD step, not as a gradient term: minimizing
    (1/(2 lr)) ||theta - theta_sgd||^2 + penalty gives, per parameter,
    theta <- (theta_sgd + lr*strength*w*anchor) / (1 + lr*strength*w). That step only ever moves
    theta toward the anchor, so it is stable for any strength, where the explicit gradient
    overshoots (and diverges) once lr * strength * w > 2.
    """

    def __init__(
        self,
        anchor: Mapping[str, np.ndarray],
        strength: float,
        weights: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        if strength < 0:
            raise ValueError(f"a penalty strength must be non-negative, got {strength}")
        self.strength = strength
        self.anchor = {k: _tensor(v) for k, v in anchor.items()}
        self.weights = None if weights is None else {k: _tensor(v).clamp_min(0) for k, v in weights.items()}
        self._cached_lr: float | None = None
        self._terms: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def __call__(self, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The penalty's value (for reports and tests; training uses :meth:`step`)."""
        total = torch.zeros(())
        for name, anchor in self.anchor.items():
            squared = (params[name] - anchor).square()
            total = total + (squared if self.weights is None else self.weights[name] * squared).sum()
        return 0.5 * self.strength * total

    @torch.no_grad()
    def step(self, params: Mapping[str, torch.Tensor], lr: float) -> None:
        """The exact proximal step for this penalty, in place."""
        for name, (target, denominator) in self._step_terms(lr).items():
            params[name].add_(target).div_(denominator)

    def _step_terms(self, lr: float) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Per tensor, lr*strength*w*anchor and 1 + lr*strength*w: fixed for a given lr, so computed once."""
        if self._cached_lr != lr:
            scale = lr * self.strength
            pulls = {name: torch.full_like(anchor, scale) if self.weights is None else scale * self.weights[name]
                     for name, anchor in self.anchor.items()}
            self._terms = {name: (self.anchor[name] * pull, 1 + pull) for name, pull in pulls.items()}
            self._cached_lr = lr
        return self._terms


def _tensor(value: np.ndarray) -> torch.Tensor:
    return torch.tensor(np.asarray(value, dtype=np.float32))


def proximal_penalty(base: Mapping[str, np.ndarray], mu: float) -> QuadraticPenalty:
    """FedProx (Li et al. 2020): (mu/2) ||w - w_base||^2."""
    return QuadraticPenalty(base, mu)


def train_local(
    task_name: str,
    base: Mapping[str, np.ndarray],
    data: Dataset,
    config: TrainConfig,
    penalties: Sequence[QuadraticPenalty] = (),
) -> TrainResult:
    """Train from ``base`` on ``data``; deterministic for a given config.seed and thread count.

    Each minibatch is a step of the task's optimiser on the task's loss, followed by each
    penalty's proximal step.
    """
    if len(data) == 0:
        raise ValueError("cannot train on an empty dataset")
    started = time.perf_counter()
    task = get_task(task_name)
    model = task.model_from_state(dict(base))
    model.train()
    terms = list(penalties)
    if config.mu > 0:
        terms.append(proximal_penalty(base, config.mu))
    params = dict(model.named_parameters())
    optimizer = task.optimizer(model.parameters(), config.lr, config.momentum)
    generator = torch.Generator().manual_seed(config.seed)
    x, y = data.tensors()
    steps, epoch_loss = 0, 0.0
    for _ in range(config.epochs):
        order = torch.randperm(len(y), generator=generator)
        losses = []
        for start in range(0, len(y), config.batch_size):
            batch = order[start:start + config.batch_size]
            loss = task.loss(model(x[batch]), y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            for term in terms:
                term.step(params, config.lr)
            losses.append(loss.detach())
            steps += 1
        epoch_loss = float(torch.stack(losses).mean())
    stats = TrainStats(epoch_loss, len(data), steps, time.perf_counter() - started)
    return TrainResult(state_to_numpy(model), stats)
