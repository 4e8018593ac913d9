"""`run.py` services as real processes for tests: output collected line by line, stopped by PID."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain.paths import REPO_ROOT

TIMEOUT = 180
# The demo's smallest run that still shows learning: 3 clients, 2 rounds of one epoch.
SMALL_DEMO = ["--model", "2nn", "--clients", "3", "--rounds", "2", "--epochs", "1", "--lr", "0.1"]


def run_py(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`run.py ARGS` to the end, as a user runs it; `check`: fail on a non-zero exit."""
    return subprocess.run([sys.executable, "run.py", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          check=check, timeout=600)


@dataclass(frozen=True)
class DemoRun:
    """A finished `run.py demo`: what it printed, its home and its JSON summary."""

    completed: subprocess.CompletedProcess[str]
    home: Path
    summary: dict[str, Any]


class Service:
    """A `run.py` process whose merged output is collected line by line."""

    def __init__(self, *args: str, fault: str | None = None, own_group: bool = False,
                 prefix: Sequence[str] = ()) -> None:
        """`own_group`: the process leads a process group of its own, as a command run from a shell does;
        `prefix`: a command that runs it, e.g. `ip netns exec NAME` (which execs, keeping the PID)."""
        env = dict(os.environ)
        env.pop("FEDCHAIN_FAULT", None)
        if fault:
            env["FEDCHAIN_FAULT"] = fault
        self.process = subprocess.Popen([*prefix, sys.executable, "-u", "run.py", *args], cwd=REPO_ROOT, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        start_new_session=own_group)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout
        for line in self.process.stdout:
            self.lines.append(line.rstrip())

    def wait_for(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if match := re.search(pattern, line):
                    return match
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.1)
        raise AssertionError(f"no line matching {pattern!r}; output:\n" + "\n".join(self.lines))

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def finish(self, timeout: float = TIMEOUT) -> int:
        """Wait for the exit; a process still running after `timeout` fails the test with what it printed."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running after {timeout} s; output:\n" + "\n".join(self.lines)) from None
        self._reader.join(5)
        assert code == 0, "\n".join(self.lines)
        return code

    def stop(self) -> None:
        if self.process.poll() is None:
            self.kill()

    def terminate(self, timeout: float = 20) -> None:
        """SIGTERM, so that a service stops what it started (an IPFS daemon's node); SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()


Start = Callable[..., Service]  # start(*run_py_args, fault=None, prefix=()) -> a running Service

