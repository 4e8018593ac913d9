"""`run.py evaluate CID --task NAME --test-data PATH`: a published model on the user's own test data.

The model is fetched by its CID (verified against it, within the model files' size cap); its plan must pin
the task named, at the hash installed here, or it is refused in one line before any data is read.
The test data is read as a client reads its own data (`Task.load_participant_data`): any file or
directory in the task's format.
"""

from __future__ import annotations

import argparse
import json
import math

from cli.common import UserError, add_home_option, add_ipfs_option, open_ipfs
from cli.task_commands import installed_task
from mlprocessor.evaluation import evaluate
from mlprocessor.task_registry import TaskMismatchError, TaskRef, source_hash, task_for_file
from protocol.artifacts import decode_artifact
from storage.cid import as_cid
from storage.model_file import DEFAULT_MAX_BYTES, read_metadata

FETCH_SECONDS = 120.0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("evaluate", help="a published model's accuracy and loss on your own test data")
    parser.add_argument("cid", help="the model's CID (a round's result, or a base model)")
    parser.add_argument("--task", required=True, help="the installed task the model must be for (run.py task list)")
    parser.add_argument("--test-data", required=True,
                        help="your labelled examples, a file or directory in the task's format (as `run.py client "
                             "--data` reads them)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_home_option(parser)
    add_ipfs_option(parser)
    parser.set_defaults(handler=evaluate_command)


def evaluate_command(args: argparse.Namespace) -> int:
    task = installed_task(args.task)
    cid = as_cid(args.cid)
    data = open_ipfs(args).get_bounded(cid, DEFAULT_MAX_BYTES, FETCH_SECONDS)
    metadata = read_metadata(data)
    if metadata.kind != "model":
        raise UserError(f"{cid} is an {metadata.kind} (a change to a model), not a model")
    pinned = task_for_file(metadata.extra, metadata.architecture)  # TaskMismatchError: another hash
    if pinned.name != task.name:
        raise TaskMismatchError(f"{cid} is a model of task {pinned.name}, not {task.name}")
    model = task.model_from_state(decode_artifact(data, task.tensor_spec()).tensors)
    test = task.load_participant_data(args.test_data)
    result = evaluate(model, test)
    ref = TaskRef.from_extra(metadata.extra, metadata.architecture)
    report = {"cid": str(cid), "task": {"name": task.name, "version": task.version, "hash": source_hash(task.name),
                                        "pinned": ref is not None},
              "round": metadata.round, "test_data": str(args.test_data), "examples": result.samples,
              "accuracy": result.accuracy, "loss": result.loss,
              "per_class_accuracy": [None if math.isnan(a) else a for a in result.per_class_accuracy]}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    pin = ref.short() if ref else f"{task.name} (published before tasks were pinned)"
    print(f"model {cid}, round {metadata.round}, task {pin}")
    print(f"{result.samples:,} examples from {args.test_data}: accuracy {result.accuracy:.2%}, loss {result.loss:.4f}")
    return 0
