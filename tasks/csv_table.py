"""Labelled tables from CSV files with a declared schema, for tabular tasks (built-in or scaffolded).

The schema is part of the task's source, so every participant reads the same columns, maps the
same label values to the same classes and normalises with the same constants: nothing is
computed from one participant's data. The reader is bounded: regular files only, a size cap on
the file and on its decompressed text, a row cap, and one line saying what is wrong.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlprocessor.data import DataError, Dataset, read_data_text

MAX_FILE_BYTES = 64 * 1024 * 1024  # compressed or not: far above any table a client trains on here
MAX_ROWS = 1_000_000
MAX_FIELD_CHARS = 1_000
_SPLIT_SEED = 20210101  # fixed forever: every party must hold out the same rows


@dataclass(frozen=True)
class Schema:
    """What a table means: feature columns, the label column, its values in class order, and the
    per-feature mean and standard deviation the features are normalised with."""

    features: tuple[str, ...]
    label: str
    classes: tuple[str, ...]  # label values as written in the file; class index = position
    means: tuple[float, ...]
    stds: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.features or len(self.means) != len(self.features) or len(self.stds) != len(self.features):
            raise ValueError("a schema needs at least one feature and one mean and one std per feature")
        if any(s <= 0 or not math.isfinite(s) for s in self.stds) or not all(map(math.isfinite, self.means)):
            raise ValueError("schema stds must be positive and means finite")
        if len(set(self.classes)) != len(self.classes) or len(self.classes) < 2:
            raise ValueError("a schema needs at least two distinct label values")
        if self.label in self.features or len(set(self.features)) != len(self.features):
            raise ValueError("feature columns must be distinct and not include the label column")


def read_table(path: str | Path, schema: Schema, max_rows: int = MAX_ROWS) -> Dataset:
    """Normalised float32 features (N, len(schema.features)) and int64 class indices of a CSV file
    with a header row; columns not in the schema are ignored."""
    path = Path(path)
    rows = csv.reader(io.StringIO(read_data_text(path, MAX_FILE_BYTES), newline=""))
    header = [name.strip() for name in next(rows, [])]
    missing = [name for name in (*schema.features, schema.label) if name not in header]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} (header: {', '.join(header[:20])})")
    columns = [header.index(name) for name in schema.features]
    label_column = header.index(schema.label)
    class_of = {value: index for index, value in enumerate(schema.classes)}
    features: list[list[float]] = []
    labels: list[int] = []
    for line, row in enumerate(rows, start=2):
        if not row:
            continue
        if len(features) >= max_rows:
            raise DataError(f"{path}: more than {max_rows} rows")
        if len(row) != len(header):
            raise DataError(f"{path}, line {line}: {len(row)} fields, the header has {len(header)}")
        if any(len(field) > MAX_FIELD_CHARS for field in row):
            raise DataError(f"{path}, line {line}: a field longer than {MAX_FIELD_CHARS} characters")
        label = row[label_column].strip()
        if label not in class_of:
            raise DataError(f"{path}, line {line}: label {label[:40]!r} is not one of {', '.join(schema.classes)}")
        try:
            values = [float(row[c]) for c in columns]
        except ValueError:
            raise DataError(f"{path}, line {line}: a feature is not a number") from None
        if not all(map(math.isfinite, values)):
            raise DataError(f"{path}, line {line}: a feature is not finite")
        features.append(values)
        labels.append(class_of[label])
    if not labels:
        raise DataError(f"{path}: no rows")
    x = (np.asarray(features, np.float64) - np.asarray(schema.means)) / np.asarray(schema.stds)
    return Dataset(x.astype(np.float32), np.asarray(labels, np.int64))


def stratified_split(labels: np.ndarray, test_fraction: float,
                     seed: int = _SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) row indices: `test_fraction` of each class held out, the same for every party."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        held = round(test_fraction * len(members))
        test.append(members[:held])
        train.append(members[held:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def normalisation_constants(raw_features: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-column mean and standard deviation (1 for a constant column), rounded to 6 significant
    digits: what a task author computes once on the training split and writes into the schema."""
    means = raw_features.mean(axis=0)
    stds = raw_features.std(axis=0)
    stds = np.where(stds > 0, stds, 1.0)
    return tuple(float(f"{v:.6g}") for v in means), tuple(float(f"{v:.6g}") for v in stds)
