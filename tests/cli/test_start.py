"""Fast start: commands that do not train never import torch, and `run.py --help` imports no command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chain.paths import REPO_ROOT

_PROBE = """
import sys
from cli.main import build_parser
try:
    build_parser({argv!r}).parse_args({argv!r})
except SystemExit:
    pass  # --help exits after printing
heavy = sorted(name for name in ("torch", "web3", "flask") if name in sys.modules)
print("heavy:" + ",".join(heavy))
"""


def _heavy_modules_after(argv: list[str]) -> set[str]:
    done = subprocess.run([sys.executable, "-c", _PROBE.format(argv=argv)], cwd=REPO_ROOT, capture_output=True,
                          text=True, check=True)
    return set(filter(None, done.stdout.strip().splitlines()[-1].removeprefix("heavy:").split(",")))


def test_top_level_help_imports_no_command_module() -> None:
    assert _heavy_modules_after(["--help"]) == set()


@pytest.mark.parametrize("argv", [["history", "--help"], ["verify", "--help"], ["ipfs", "cat", "--help"],
                                  ["deploy", "--help"]])
def test_commands_that_do_not_train_do_not_import_torch(argv: list[str]) -> None:
    assert "torch" not in _heavy_modules_after(argv)


def test_the_help_lists_every_command() -> None:
    done = subprocess.run([sys.executable, "run.py", "--help"], cwd=REPO_ROOT, capture_output=True, text=True,
                          check=True)
    for command in ("demo", "chain", "history", "verify", "ipfs", "organization", "client", "bench"):
        assert f"    {command}" in done.stdout


def test_verification_and_model_checks_do_not_import_torch() -> None:
    """`verify` recomputes aggregates with numpy and checks files against static layouts."""
    probe = ("import sys, protocol.verification, protocol.artifacts, mlprocessor.aggregation; "
             "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


_EXITING = """
import atexit, sys, threading
from pathlib import Path
from cli.exiting import exit_without_teardown
marker = Path(sys.argv[1])
atexit.register(lambda: marker.write_text("exit handlers ran"))
worker = threading.Thread(target=lambda: (__import__("time").sleep(0.2), Path(sys.argv[3]).write_text("done")))
worker.start()
print("result", end="")  # no newline: still buffered when the process ends
exit_without_teardown(int(sys.argv[2]))
"""


@pytest.mark.parametrize("code", [0, 3])
def test_an_exit_without_teardown_keeps_the_code_output_threads_and_exit_handlers(tmp_path, code: int) -> None:
    marker = tmp_path / "marker"
    thread_output = tmp_path / "thread"
    done = subprocess.run([sys.executable, "-c", _EXITING, str(marker), str(code), str(thread_output)],
                          cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == code
    assert done.stdout == "result"  # flushed
    assert thread_output.read_text() == "done"  # the thread was waited for
    assert marker.read_text() == "exit handlers ran"
