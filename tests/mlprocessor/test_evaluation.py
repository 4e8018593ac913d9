from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from mlprocessor.data import Dataset
from mlprocessor.evaluation import evaluate


class _Fixed(nn.Module):
    """Returns preset logits per sample, so the metrics are known in advance."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits[x[:, 0].long()]


def test_accuracy_loss_and_per_class() -> None:
    labels = np.array([0, 0, 1, 1, 1])
    predicted = torch.tensor([0, 1, 1, 1, 0])
    logits = torch.nn.functional.one_hot(predicted, 10).float() * 5
    x = np.zeros((5, 784), np.float32)
    x[:, 0] = np.arange(5)
    result = evaluate(_Fixed(logits), Dataset(x, labels), batch_size=2)
    assert result.accuracy == 3 / 5 and result.samples == 5
    expected_loss = torch.nn.functional.cross_entropy(logits, torch.tensor(labels)).item()
    assert math.isclose(result.loss, expected_loss, rel_tol=1e-6)
    assert result.per_class_accuracy[:2] == (0.5, 2 / 3)
    assert all(math.isnan(v) for v in result.per_class_accuracy[2:])
