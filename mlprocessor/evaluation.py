"""Test-set metrics of a model."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mlprocessor.data import Dataset


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    loss: float  # mean cross-entropy
    per_class_accuracy: tuple[float, ...]  # NaN for a class absent from the data
    samples: int


@torch.no_grad()
def evaluate(model: nn.Module, data: Dataset, batch_size: int = 1000) -> Evaluation:
    """Accuracy and mean cross-entropy of a classifier (every task's model gives one row of logits per example)."""
    if len(data) == 0:
        raise ValueError("cannot evaluate on an empty dataset")
    model.eval()
    x, y = data.tensors()
    loss_sum = torch.zeros((), dtype=torch.float64)
    predictions = []
    classes = 0
    for start in range(0, len(y), batch_size):
        logits = model(x[start:start + batch_size])
        classes = logits.shape[1]
        loss_sum += F.cross_entropy(logits, y[start:start + batch_size], reduction="sum").double()
        predictions.append(logits.argmax(dim=1))
    correct = (torch.cat(predictions) == y).double()
    per_class_total = torch.bincount(y, minlength=classes).double()
    per_class_correct = torch.bincount(y, weights=correct, minlength=classes)
    per_class = per_class_correct / per_class_total  # 0/0 -> NaN marks an absent class
    return Evaluation(
        accuracy=float(correct.mean()),
        loss=float(loss_sum / len(y)),
        per_class_accuracy=tuple(float(v) for v in per_class),
        samples=len(y),
    )
