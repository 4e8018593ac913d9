"""Run `run.py demo` in this process (the full protocol) and return its JSON summary."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path
from typing import Any

from bench.settings import SuiteSettings
from cli.main import main


class DemoFailed(RuntimeError):
    """The demo exited non-zero; carries its output."""


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
    """The demo's summary; its progress lines are captured, and shown only if it fails."""
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        summary = Path(tmp) / "summary.json"
        output = io.StringIO()
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            code = main(["demo", "--home", tmp, *args, "--json", str(summary)])
        if code != 0 or not summary.exists():
            raise DemoFailed(f"run.py demo {' '.join(args)} exited {code}:\n{output.getvalue()[-2000:]}")
        return json.loads(summary.read_text())


def command_line(args: list[str]) -> str:
    return "run.py demo " + " ".join(args)
