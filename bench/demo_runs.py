"""Run `run.py demo` as its own process (benchmarks never import `cli`) and return its JSON summary
with the process's wall time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.settings import REPO, SuiteSettings


class DemoFailed(RuntimeError):
    """The demo exited non-zero; carries the end of its output."""


def demo_args(settings: SuiteSettings, **options: Any) -> list[str]:
    """Command-line arguments of a demo run: the suite's defaults, overridden by `options`."""
    values: dict[str, Any] = {"clients": settings.clients, "epochs": settings.epochs,
                              "batch_size": settings.batch_size, "lr": settings.lr, "seed": settings.seed}
    if settings.test_data:
        values["test_data"] = settings.test_data
    values.update(options)
    argv: list[str] = []
    for key, value in values.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return argv


def run_demo(args: list[str]) -> dict[str, Any]:
    """The demo's summary plus `process_wall_seconds` (interpreter start-up and imports included)."""
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        summary = Path(tmp) / "summary.json"
        started = time.perf_counter()
        done = subprocess.run([sys.executable, str(REPO / "run.py"), "demo", "--home", tmp, *args, "--json",
                               str(summary)], cwd=REPO, capture_output=True, text=True,
                              env=dict(os.environ, OMP_NUM_THREADS="1"))
        wall = time.perf_counter() - started
        if done.returncode != 0 or not summary.exists():
            raise DemoFailed(f"run.py demo {' '.join(args)} exited {done.returncode}:\n"
                             f"{(done.stdout + done.stderr)[-2000:]}")
        return {**json.loads(summary.read_text()), "process_wall_seconds": round(wall, 1)}


def command_line(args: list[str]) -> str:
    return "run.py demo " + " ".join(args)
