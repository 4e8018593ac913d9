"""A client started on damaged local inputs (issue 19's table), run as a user runs it: one line naming
the file, no traceback, no hang, before it connects to anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from chain.accounts import dev_account
from chain.paths import REPO_ROOT


def _client(home: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "run.py", "client", "--home", str(home), "--account", "4",
                           "--num-partitions", "8", "--chain", "http://127.0.0.1:9", *extra],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False)


def _one_line(result: subprocess.CompletedProcess[str], expected: str) -> None:
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0 and "Traceback" not in output, output
    assert len(output.splitlines()) == 1 and expected in output, output


def test_a_damaged_history_stops_the_client_at_start(tmp_path: Path) -> None:
    state = tmp_path / "clients" / dev_account(4).address
    state.mkdir(parents=True)
    (state / "history.json").write_text('[{"round": "one"}]')
    _one_line(_client(tmp_path), f"client state file {state / 'history.json'} is corrupt")


def test_a_fifo_given_as_data_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "a.npz"
    os.mkfifo(fifo)
    _one_line(_client(tmp_path, "--data", str(fifo)), f"{fifo}: not a regular file")
