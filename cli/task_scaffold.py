"""`run.py task new`: scaffold an installable task package that trains on the user's CSV or .npz.

The package (like `flwr new`'s): a pyproject.toml declaring the task's entry point in the group
`fedchain.tasks`, and a module with a Task subclass whose schema (label column, feature columns,
classes) and normalisation constants are computed here, once, from the file the user points to, and
written into the source: participants never compute their own. The bounded reader is copied into
the package, so the package is self-contained and its reader is part of the source its hash pins.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import tasks.template
from cli.common import UserError
from mlprocessor.data import DataError
from mlprocessor.task_registry import BUILTIN, ENTRY_POINT_GROUP
from tasks.template.reader import Schema, read_csv_table, read_examples, read_npz

TEMPLATE_DIR = Path(tasks.template.__file__).parent
TASK_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
MAX_NAME_CHARS = 40
MAX_FEATURES = 10_000  # the normalisation constants are written into the source, one per feature
MAX_CLASSES = 1000
LINE_CHARS = 100


@dataclass(frozen=True)
class DataSummary:
    """What `task new` learned from the user's file: the schema, the constants and its size."""

    schema: Schema
    mean: np.ndarray
    std: np.ndarray
    examples: int


@dataclass(frozen=True)
class Scaffold:
    """The package written: where, and what it registers."""

    directory: Path
    module: str
    class_name: str
    files: tuple[Path, ...]
    summary: DataSummary


def check_name(name: str) -> None:
    if len(name) > MAX_NAME_CHARS or not TASK_NAME.fullmatch(name):
        raise UserError(f"task name {name[:60]!r}: use lower-case letters, digits and single hyphens, starting "
                        f"with a letter, at most {MAX_NAME_CHARS} characters (e.g. breast-cancer)")
    if name in BUILTIN:
        raise UserError(f"{name!r} is a built-in task: choose another name")


def summarize_data(path: Path, label: str) -> DataSummary:
    """Schema and normalisation constants (per feature mean and standard deviation) of a CSV or .npz."""
    if path.suffix not in (".csv", ".npz"):
        raise DataError(f"{path}: expected a .csv or an .npz file")
    if path.suffix == ".npz":
        x, y = read_npz(path)
        if len(y) and y.min() < 0:
            raise DataError(f"{path}: labels must be class indices 0, 1, 2, ...")
        schema = Schema("npz", "", (), tuple(x.shape[1:]), tuple(str(k) for k in range(int(y.max(initial=0)) + 1)))
    else:
        header, rows = read_csv_table(path)
        if label not in header:
            raise DataError(f"{path}: no column {label!r} (columns: {', '.join(header[:8])}"
                            f"{', ...' if len(header) > 8 else ''}): name the label column with --label COLUMN")
        features = tuple(name for name in header if name != label)
        schema = Schema("csv", label, features, (len(features),), _classes(row[header.index(label)] for row in rows))
        x, y = read_examples(path, schema)
    features = int(np.prod(schema.shape))
    if not 0 < features <= MAX_FEATURES:
        raise DataError(f"{path}: {features} features per example; the scaffold takes 1 to {MAX_FEATURES}")
    if not 2 <= len(schema.classes) <= MAX_CLASSES or len(np.unique(y)) < 2:
        raise DataError(f"{path}: a classification task needs 2 to {MAX_CLASSES} classes, each present")
    flat = x.reshape(len(x), -1)
    std = flat.std(axis=0)
    return DataSummary(schema, flat.mean(axis=0), np.where(std > 1e-12, std, 1.0), len(y))


def _classes(labels: Iterable[str]) -> tuple[str, ...]:
    """The distinct labels as written, in numeric order when they are all numbers."""
    distinct = sorted({label.strip() for label in labels})
    try:
        return tuple(sorted(distinct, key=float))
    except ValueError:
        return tuple(distinct)


def scaffold(name: str, data: Path, directory: Path, label: str = "label") -> Scaffold:
    """Write the package for task `name` into `directory` (which must be new or empty)."""
    check_name(name)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise UserError(f"{directory} already exists and is not an empty directory: choose another --dir")
    summary = summarize_data(data, label)
    module = "fedchain_task_" + name.replace("-", "_")
    class_name = "".join(part.capitalize() for part in name.split("-"))
    package = directory / module
    package.mkdir(parents=True, exist_ok=True)
    files = {
        directory / "pyproject.toml": _pyproject(name, module, class_name),
        package / "__init__.py": _module(name, class_name, data, summary),
        package / "reader.py": (TEMPLATE_DIR / "reader.py").read_text(),
    }
    for path, text in files.items():
        path.write_text(text)
    return Scaffold(directory, module, class_name, tuple(files), summary)


def _pyproject(name: str, module: str, class_name: str) -> str:
    return (f'[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n\n'
            f'[project]\nname = "fedchain-task-{name}"\nversion = "1.0"\n'
            f'description = "The fedchain task {name}"\nrequires-python = ">=3.11"\n\n'
            f'[project.entry-points."{ENTRY_POINT_GROUP}"]\n{name} = "{module}:{class_name}"\n\n'
            f'[tool.setuptools]\npackages = ["{module}"]\n')


def _module(name: str, class_name: str, data: Path, summary: DataSummary) -> str:
    schema = summary.schema
    origin = re.sub(r"[^\w.\- ]", "_", data.name)
    inputs = (f"label column {schema.label!r} and {len(schema.features)} numeric feature columns"
              if schema.format == "csv" else f"arrays x (N, {', '.join(map(str, schema.shape))}) and y")
    summary_text = f"{name}: {len(schema.classes)} classes from {inputs}"
    values = {
        "name": name, "origin": f"{origin} ({summary.examples} examples)", "summary": summary_text,
        "class_name": class_name, "name_literal": repr(name), "summary_literal": repr(summary_text),
        "data_source": repr(f"your own .{schema.format} files: {inputs} (no data is bundled)"),
        "format": repr(schema.format), "label": repr(schema.label), "features": _literal(schema.features, 8),
        "shape": repr(schema.shape), "classes": _literal(schema.classes, 8),
        "mean": _literal(tuple(summary.mean), 4), "std": _literal(tuple(summary.std), 4),
    }
    return string.Template((TEMPLATE_DIR / "task.py.tmpl").read_text()).substitute(values)


def _literal(values: tuple[object, ...], indent: int) -> str:
    """A tuple literal, wrapped: deterministic, so the same file always gives the same source (and hash)."""
    items = [repr(float(v)) if isinstance(v, np.floating | float) else repr(v) for v in values]
    if not items:
        return "()"
    if len(items) == 1:
        return f"({items[0]},)"
    lines, line = [], ""
    for item in items:
        if line and len(line) + len(item) + 2 > LINE_CHARS - indent:
            lines.append(line.rstrip())
            line = ""
        line += item + ", "
    lines.append(line.rstrip())
    pad = " " * indent
    return "(\n" + "".join(f"{pad}{text}\n" for text in lines) + " " * (indent - 4) + ")"
