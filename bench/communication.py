"""Section 7, communication: bytes of one update file per encoding (float32, float16, int8 with a
scale per tensor) for both models, and the accuracy cost of each encoding over whole runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import numpy as np

from bench.demo_runs import command_line, demo_args, run_demo
from bench.report import percent, table
from bench.settings import SuiteSettings
from mlprocessor.models import initial_state
from protocol.artifacts import encode_artifact, update_metadata
from storage.cid import Cid
from storage.model_file import Encoding

BASE_CID = Cid.parse("QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG")  # any valid CID: only sizes matter here


def update_bytes(model: str, encoding: Encoding) -> int:
    """Size of an update file: a delta of the model's shape (values do not change the size)."""
    rng = np.random.default_rng(0)
    delta = {k: (0.01 * rng.standard_normal(v.shape)).astype(np.float32) for k, v in initial_state(model).items()}
    return len(encode_artifact(delta, update_metadata(model, 1, 500, BASE_CID, encoding)))


def run(settings: SuiteSettings) -> dict[str, Any]:
    sizes = {model: {e: update_bytes(model, e) for e in get_args(Encoding)} for model in ("2nn", "cnn")}
    runs = {}
    for encoding in get_args(Encoding):
        args = demo_args(settings, model="2nn", rounds=settings.communication_rounds, encoding=encoding)
        summary = run_demo(args)
        runs[encoding] = {"command": command_line(args), "accuracy": [r["accuracy"] for r in summary["rounds"]]}
    return {"sizes": sizes, "runs": runs}


def headline(data: dict[str, Any]) -> list[list[str]]:
    sizes, runs = data["sizes"]["cnn"], data["runs"]
    baseline = runs["float32"]["accuracy"][-1]
    return [["CNN update bytes float32 / float16 / int8", " / ".join(f"{b:,}" for b in sizes.values()), ""],
            [f"2NN accuracy cost of float16 / int8 after {len(runs['float32']['accuracy'])} rounds",
             " / ".join(f"{100 * (r['accuracy'][-1] - baseline):+.2f} pp" for e, r in runs.items() if e != "float32"),
             ""]]


def render(data: dict[str, Any], figures: Path, mode: str) -> str:
    sizes = data["sizes"]
    size_rows = [[e, *(f"{sizes[m][e]:,} B ({sizes[m][e] / sizes[m]['float32']:.2f}x)" for m in sizes)]
                 for e in sizes["2nn"]]
    baseline = data["runs"]["float32"]["accuracy"][-1]
    rounds = len(data["runs"]["float32"]["accuracy"])
    accuracy_rows = [[e, percent(r["accuracy"][-1]), f"{100 * (r['accuracy'][-1] - baseline):+.2f} pp"]
                     for e, r in data["runs"].items()]
    return ("Bytes of one update file (safetensors + metadata) per client per round; the upload is this, the "
            "organization's download is this times the number of clients.\n\n"
            + table(["encoding", *(f"{m.upper()} update" for m in sizes)], size_rows)
            + f"\n\nAccuracy cost (2NN, IID, 10 clients, {rounds} rounds, the organization aggregates the decoded "
            "updates):\n\n" + table(["encoding", f"accuracy after round {rounds}", "vs float32"], accuracy_rows)
            + "\n\nCommands: " + "; ".join(f"`{r['command']}`" for r in data["runs"].values()))
