"""Local SGD in plain tensor operations, so that a process that trains never imports torch._dynamo.

Constructing any `torch.optim` optimizer imports torch._dynamo (1.3-1.5 s of CPU on this
machine), which every client process and every demo worker paid before its first round. This is
`torch.optim.SGD`'s single-tensor CPU step (heavy-ball momentum without dampening, Nesterov or
weight decay) operation for operation, so it gives the same bits (tests/mlprocessor/test_training.py).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


class LocalSgd:
    """SGD with optional momentum: buf = momentum * buf + grad (buf = grad at first), p -= lr * buf."""

    def __init__(self, parameters: Iterable[nn.Parameter], lr: float, momentum: float = 0.0) -> None:
        if not lr > 0 or not 0 <= momentum < 1:
            raise ValueError(f"SGD needs lr > 0 and momentum in [0, 1), got lr={lr}, momentum={momentum}")
        self.parameters = list(parameters)
        self.lr, self.momentum = lr, momentum
        self.buffers: list[torch.Tensor | None] = [None] * len(self.parameters)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for parameter in self.parameters:
            if set_to_none:
                parameter.grad = None
            elif parameter.grad is not None:
                parameter.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        for i, parameter in enumerate(self.parameters):
            grad = parameter.grad
            if grad is None:
                continue
            if self.momentum:
                buffer = self.buffers[i]
                if buffer is None:
                    buffer = self.buffers[i] = torch.clone(grad).detach()
                else:
                    buffer.mul_(self.momentum).add_(grad, alpha=1.0)
                grad = buffer
            parameter.add_(grad, alpha=-self.lr)
