"""`run.py task list|check|new`: the tasks installed here, a one-batch smoke run of one, and a new
task package scaffolded from the user's own CSV or .npz (docs/TASKS.md).

A task is code installed on this machine; one that fails to import (or to describe itself) is
reported in one line, never with a traceback, and never stops `task list` from showing the others.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.common import UserError
from mlprocessor.task_registry import TaskMismatchError, available_tasks, get_task, source_hash

if TYPE_CHECKING:  # importing the task interface imports torch
    from mlprocessor.task import Task


def register(commands: argparse._SubParsersAction) -> None:
    task = commands.add_parser("task", help="the tasks installed here: list, check one, scaffold a new one")
    actions = task.add_subparsers(dest="task_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every installed task: version, hash, data, parameters, defaults")
    listing.add_argument("--json", action="store_true", help="print JSON instead of text")
    listing.set_defaults(handler=list_command)
    check = actions.add_parser("check", help="the task's hash, and one training batch from a seeded model")
    check.add_argument("name")
    check.add_argument("--data", default=None, help="a file or directory of your own data, read as a client "
                                                    "reads it (default: the task's bundled data set)")
    check.add_argument("--seed", type=int, default=0, help="seed of the model")
    check.set_defaults(handler=check_command)
    new = actions.add_parser("new", help="scaffold an installable task package that trains on your CSV or .npz")
    new.add_argument("name", help="the task's name, e.g. breast-cancer")
    new.add_argument("--data", type=Path, required=True,
                     help="a CSV (a header row, a label column, numeric feature columns) or an .npz (arrays x "
                          "and y): its schema and normalisation constants are written into the task")
    new.add_argument("--label", default="label", help="the CSV's label column")
    new.add_argument("--dir", type=Path, default=None, help="where to write the package (default: ./NAME)")
    new.set_defaults(handler=new_command)


def installed_task(name: str) -> Task:
    """The installed task `name`; any failure of its code (an import error, ...) as one line."""
    try:
        task = get_task(name)
        source_hash(name)
    except TaskMismatchError:
        raise
    except Exception as error:
        raise UserError(f"task {name!r} cannot be loaded: {type(error).__name__}: {error}") from None
    return task


# ---------------------------------------------------------------- list


def describe(name: str) -> dict[str, Any]:
    task = installed_task(name)
    defaults = task.training
    return {"name": task.name, "version": task.version, "hash": source_hash(name), "summary": task.summary,
            "data_source": task.data_source, "classes": task.num_classes,
            "parameters": sum(math.prod(shape) for shape, _ in task.tensor_spec().values()),
            "training": {"epochs": defaults.epochs, "batch_size": defaults.batch_size, "lr": defaults.lr,
                         "momentum": defaults.momentum}}


def list_command(args: argparse.Namespace) -> int:
    rows = []
    for name in available_tasks():
        try:
            rows.append(describe(name))
        except (UserError, TaskMismatchError) as error:
            rows.append({"name": name, "error": str(error)})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        if "error" in row:
            print(f"{row['name']:<{width}}  {row['error']}")
            continue
        training = row["training"]
        print(f"{row['name']:<{width}}  {row['version']:<5} {row['hash'][:12]}  {row['parameters']:>11,} parameters"
              f"  {row['classes']} classes  epochs {training['epochs']}, batch {training['batch_size']}, "
              f"lr {training['lr']:g}, momentum {training['momentum']:g}")
        print(f"{'':<{width}}  {row['summary']}")
        print(f"{'':<{width}}  data: {row['data_source']}")
    return 0


# ---------------------------------------------------------------- check


def check_command(args: argparse.Namespace) -> int:
    from cli.task_check import check_task

    task = installed_task(args.name)
    print(f"task {task.name} {task.version}")
    print(f"hash {source_hash(task.name)}")
    for line in check_task(task, args.data, args.seed):
        print(line, flush=True)
    print("ok")
    return 0


# ---------------------------------------------------------------- new


def new_command(args: argparse.Namespace) -> int:
    from cli.task_scaffold import scaffold

    directory = args.dir or Path(args.name)
    made = scaffold(args.name, args.data, directory, args.label)
    schema = made.summary.schema
    print(f"task {args.name}: {made.summary.examples} examples of {', '.join(map(str, schema.shape))} features, "
          f"{len(schema.classes)} classes ({', '.join(schema.classes[:10])}), from {args.data}")
    for path in made.files:
        print(f"wrote {path}")
    print(f"next: .venv/bin/pip install -e {directory} && .venv/bin/python run.py task check {args.name} "
          f"--data {args.data}")
    return 0
