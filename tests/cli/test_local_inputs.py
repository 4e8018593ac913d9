"""A client started on damaged local inputs (issue 19's table), run as a user runs it (the command line,
in this process): one line naming the file, no traceback, no hang, before it connects to anything."""

from __future__ import annotations

import os
from pathlib import Path

from chain.accounts import dev_account
from tests.support import run_main


def _one_line(capsys, home: Path, expected: str, *extra: str) -> None:
    """`run.py client` on `home` fails with one line (an unexpected exception fails the test)."""
    code, out, err = run_main(capsys, "client", "--home", str(home), "--account", "4", "--num-partitions", "8",
                              "--chain", "http://127.0.0.1:9", *extra)
    output = (out + err).strip()
    assert code != 0 and "Traceback" not in output, output
    assert len(output.splitlines()) == 1 and expected in output, output


def test_a_damaged_history_stops_the_client_at_start(tmp_path: Path, capsys) -> None:
    state = tmp_path / "clients" / dev_account(4).address
    state.mkdir(parents=True)
    (state / "history.json").write_text('[{"round": "one"}]')
    _one_line(capsys, tmp_path, f"client state file {state / 'history.json'} is corrupt")


def test_a_fifo_given_as_data_is_refused_without_hanging(tmp_path: Path, capsys) -> None:
    fifo = tmp_path / "a.npz"
    os.mkfifo(fifo)
    _one_line(capsys, tmp_path, f"{fifo}: not a regular file", "--data", str(fifo))
