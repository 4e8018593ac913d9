"""A reader that goes away (`run.py demo | head`) ends a command quietly, as it ends `cat`."""

from __future__ import annotations

import subprocess
import sys

from chain.paths import REPO_ROOT


def test_a_closed_output_pipe_ends_the_demo_without_a_traceback(tmp_path) -> None:
    demo = subprocess.Popen([sys.executable, "run.py", "demo", "--model", "2nn", "--clients", "2", "--rounds", "1",
                             "--epochs", "1", "--home", str(tmp_path)], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert demo.stdout is not None and demo.stderr is not None
    demo.stdout.close()  # before the demo's first line: its first write finds no reader
    errors = demo.stderr.read()
    assert demo.wait(120) == 1
    assert "Traceback" not in errors and "Error" not in errors, errors
