"""Bounded readers for a task's data: a CSV (a header, a label column, numeric feature columns) or an
.npz (arrays x and y), a single file or a directory of such files.

Part of the task's pinned source. Every input is bounded before it is read (regular files only, a
size cap, a row cap, a cap on the files of a directory); nothing is ever unpickled; every refusal
is a DataError of one line saying which file and what is wrong.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlprocessor.data import DataError, data_files, load_npz_arrays, read_data_text

MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_ROWS = 1_000_000
MAX_FILES = 1000


@dataclass(frozen=True)
class Schema:
    """What the task's data looks like; fixed in the task's source, the same for every participant."""

    format: str  # "csv" or "npz"
    label: str  # the CSV's label column ("" for .npz)
    features: tuple[str, ...]  # the CSV's feature columns, in the model's input order (() for .npz)
    shape: tuple[int, ...]  # one example's shape
    classes: tuple[str, ...]  # the labels as the file writes them; class k is classes[k]


def read_csv_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """The header and the rows of a CSV file, every row as wide as the header."""
    text = read_data_text(path, MAX_FILE_BYTES)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if not header:
            raise DataError(f"{path}: empty, expected a header row naming the columns")
        header = [name.strip() for name in header]
        rows = []
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise DataError(f"{path} line {reader.line_num}: {len(row)} fields, the header names {len(header)}")
            if len(rows) == MAX_ROWS:
                raise DataError(f"{path}: more than {MAX_ROWS} rows")
            rows.append(row)
    except csv.Error as error:
        raise DataError(f"{path} line {reader.line_num}: not valid CSV ({error})") from None
    if len(set(header)) != len(header):
        raise DataError(f"{path}: the header repeats a column name")
    return header, rows


def numeric_column(path: Path, name: str, values: list[str]) -> np.ndarray:
    """A CSV column as finite float64 numbers, or a DataError naming the first bad value."""
    try:
        column = np.array([value.strip() for value in values]).astype(np.float64)
    except ValueError:
        column = None
    if column is None or not np.isfinite(column).all():
        row, value = next((i, v) for i, v in enumerate(values) if not _finite(v))
        raise DataError(f"{path}: column {name!r}, data row {row + 1}: {value[:40]!r} is not a finite number")
    return column


def _finite(value: str) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except ValueError:
        return False


def read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Arrays x and y of an .npz file, read by fedchain's bounded reader (sizes checked before any
    array is allocated, never unpickled), then checked for what a task's examples must be."""
    x, y = load_npz_arrays(path)
    if x.ndim < 1 or y.ndim != 1 or len(x) != len(y):
        raise DataError(f"{path}: x {x.shape} and y {y.shape} must hold one label per example")
    if len(y) > MAX_ROWS:
        raise DataError(f"{path}: more than {MAX_ROWS} examples")
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)) or x.dtype == np.float16:
        raise DataError(f"{path}: x must hold integers or floats, not {x.dtype}")
    if not np.isfinite(x).all():
        raise DataError(f"{path}: x holds values that are not finite")
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{path}: y must hold integer labels, not {y.dtype}")
    return x.astype(np.float64), y.astype(np.int64)


def read_examples(path: str | Path, schema: Schema) -> tuple[np.ndarray, np.ndarray]:
    """Examples (N, *shape) float64 and class indices (N,) int64 from a file of the schema's format,
    or from every such file of a directory (in name order)."""
    path = Path(path)
    if path.is_dir():
        files = data_files(path, f"*.{schema.format}")
        if not files:
            raise DataError(f"{path}: no *.{schema.format} file")
        if len(files) > MAX_FILES:
            raise DataError(f"{path}: more than {MAX_FILES} *.{schema.format} files")
    elif path.suffix == f".{schema.format}":
        files = [path]
    else:
        raise DataError(f"{path}: expected a .{schema.format} file or a directory of them")
    parts = [_read_file(file, schema) for file in files]
    x, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    if len(y) > MAX_ROWS:
        raise DataError(f"{path}: more than {MAX_ROWS} examples in all")
    return x, y


def _read_file(path: Path, schema: Schema) -> tuple[np.ndarray, np.ndarray]:
    if schema.format == "npz":
        x, y = read_npz(path)
        if x.shape[1:] != schema.shape:
            raise DataError(f"{path}: examples of shape {x.shape[1:]}, the task expects {schema.shape}")
        if len(y) and (y.min() < 0 or y.max() >= len(schema.classes)):
            raise DataError(f"{path}: labels outside 0..{len(schema.classes) - 1}")
        return x, y
    header, rows = read_csv_table(path)
    missing = [name for name in (schema.label, *schema.features) if name not in header]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(map(repr, missing[:5]))}")
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in header]
    index = {name: i for i, name in enumerate(header)}
    x = np.stack([numeric_column(path, name, list(columns[index[name]])) for name in schema.features], axis=1) \
        if rows else np.zeros((0, len(schema.features)))
    classes = {label: k for k, label in enumerate(schema.classes)}
    labels = [value.strip() for value in columns[index[schema.label]]]
    unknown = next((i for i, label in enumerate(labels) if label not in classes), None)
    if unknown is not None:
        raise DataError(f"{path}: data row {unknown + 1}: label {labels[unknown][:40]!r} is not one of the task's "
                        f"classes {', '.join(schema.classes[:10])}")
    return x.reshape(len(rows), *schema.shape), np.array([classes[label] for label in labels], dtype=np.int64)
