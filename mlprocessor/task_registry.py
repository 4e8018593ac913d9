"""Which tasks this participant has installed, and the pin that a round's plan puts on one.

Tasks come from two places only, both on this machine: the built-ins under `tasks/`, and
installed packages exposing an entry point in the group `fedchain.tasks`. A round's plan names a
task with its version and the SHA-256 of its source; a party that does not have exactly that
code refuses the round with one line (`TaskMismatchError`). Nothing is ever downloaded.

Importing this module does not import torch or any task: tasks load on first use.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING

from storage.model_file import ExtraValue

if TYPE_CHECKING:
    from mlprocessor.task import Task

ENTRY_POINT_GROUP = "fedchain.tasks"
BUILTIN: dict[str, str] = {
    "mnist-2nn": "tasks.mnist:Mnist2nn",
    "mnist-cnn": "tasks.mnist:MnistCnn",
    "fashion-mnist": "tasks.fashion_mnist:FashionMnist",
    "tabular-shuttle": "tasks.tabular:Shuttle",
    "shakespeare": "tasks.shakespeare:Shakespeare",
}
LEGACY_ARCHITECTURES = {"2nn": "mnist-2nn", "cnn": "mnist-cnn"}
"""Model files published before tasks existed name one of these architectures."""
DEFAULT_TASK = "mnist-cnn"

_NAME_KEY, _VERSION_KEY, _HASH_KEY = "task.name", "task.version", "task.hash"


class TaskMismatchError(ValueError):
    """The plan pins a task this participant does not have at that version and hash."""


def _targets() -> dict[str, str]:
    """Task name -> "module:Class", built-ins first; an installed package may not shadow a built-in."""
    targets = dict(BUILTIN)
    for point in entry_points(group=ENTRY_POINT_GROUP):
        targets.setdefault(point.name, point.value)
    return targets


def available_tasks() -> list[str]:
    return sorted(_targets())


@cache
def get_task(name: str) -> Task:
    """The installed task called `name` (a legacy architecture name maps to its MNIST task)."""
    name = LEGACY_ARCHITECTURES.get(name, name)
    targets = _targets()
    if name not in targets:
        raise TaskMismatchError(f"task {name!r} is not installed here (installed: {', '.join(sorted(targets))}); "
                                f"see docs/TASKS.md")
    module_name, _, attribute = targets[name].partition(":")
    try:
        task = getattr(importlib.import_module(module_name), attribute)()
    except (ImportError, AttributeError) as error:
        raise TaskMismatchError(f"task {name!r} cannot be loaded: {type(error).__name__}: {error}") from None
    if task.name != name:
        raise TaskMismatchError(f"the entry point {name!r} loads a task that calls itself {task.name!r}")
    return task


@cache
def source_hash(name: str) -> str:
    """SHA-256 over the source of a task's package (every .py file under it, by relative path) and
    of the extra modules it declares: what a plan pins."""
    task = get_task(name)
    files: dict[str, Path] = {}
    for module_name in (type(task).__module__, *task.source_modules):
        module = sys.modules.get(module_name) or importlib.import_module(module_name)
        path = Path(module.__file__ or "")
        root = path.parent if path.name == "__init__.py" else path
        for file in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
            files[f"{module_name}/{file.relative_to(root.parent) if root.is_dir() else file.name}"] = file
    digest = hashlib.sha256()
    for label in sorted(files):
        content = files[label].read_bytes()
        digest.update(f"{label}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


@dataclass(frozen=True)
class TaskRef:
    """The pin a plan carries: a task by name, version and source hash."""

    name: str
    version: str
    hash: str

    @classmethod
    def of(cls, name: str) -> TaskRef:
        task = get_task(name)
        return cls(task.name, task.version, source_hash(task.name))

    def to_extra(self) -> dict[str, ExtraValue]:
        return {_NAME_KEY: self.name, _VERSION_KEY: self.version, _HASH_KEY: self.hash}

    @classmethod
    def from_extra(cls, extra: Mapping[str, ExtraValue], architecture: str) -> TaskRef | None:
        """The pin of a model file, or None for a file published before tasks (legacy MNIST)."""
        if _NAME_KEY not in extra:
            if architecture in LEGACY_ARCHITECTURES:
                return None
            raise TaskMismatchError(f"the model file names architecture {architecture!r} but no task")
        return cls(str(extra[_NAME_KEY]), str(extra.get(_VERSION_KEY, "")), str(extra.get(_HASH_KEY, "")))

    def short(self) -> str:
        return f"{self.name} {self.version} ({self.hash[:12]})"

    def require_installed(self) -> Task:
        """The installed task, or TaskMismatchError with one line saying what differs."""
        task = get_task(self.name)
        installed = TaskRef.of(self.name)
        if installed != self:
            raise TaskMismatchError(f"the round's plan pins task {self.short()}, this machine has "
                                    f"{installed.short()}: install that exact version of the task")
        return task


def task_for_file(extra: Mapping[str, ExtraValue], architecture: str) -> Task:
    """The installed task a model file was made for, checked against the file's pin."""
    ref = TaskRef.from_extra(extra, architecture)
    return get_task(architecture) if ref is None else ref.require_installed()
