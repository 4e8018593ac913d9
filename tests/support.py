"""Helpers shared by the test suites: external components, free ports, waiting for readiness."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

import pytest

from cli.main import main


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require_component(available: bool, component: str, how_to_get_it: str) -> None:
    """Skip a test whose component is missing on a developer machine; fail it in CI."""
    if available:
        return
    message = f"{component} is not available ({how_to_get_it})"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`run.py ARGV` in this process: its exit code, stdout and stderr. For what a command refuses or
    prints before it starts anything (help, errors), without the cost of a fresh interpreter; an
    unexpected exception propagates (in a subprocess, a traceback)."""
    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse: --help, or a usage error
        code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err
