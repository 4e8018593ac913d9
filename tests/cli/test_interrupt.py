"""Ctrl-C (SIGINT to the terminal's process group) and SIGTERM end the demo with every process it
started: client workers, the multiprocessing resource tracker and the private chain."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from chain.nodes import anvil_executable
from tests.processes import Service
from tests.support import require_component, wait_until

ENDS_WITHIN = 60  # seconds: a bound for a failing test, not a timing claim


def group_members(group: int) -> list[str]:
    """PID and command of every live process in a process group (read from /proc)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # it ended meanwhile
        if fields[0] != "Z" and int(fields[2]) == group:
            members.append(f"{entry.name} {command[:100]}")
    return members


@pytest.mark.parametrize("how", ["SIGINT to the group", "SIGTERM to the main process"])
def test_an_interrupted_demo_leaves_no_process_behind(how: str, tmp_path: Path) -> None:
    require_component(anvil_executable() is not None, "Anvil", "run ./setup.sh (npm package @foundry-rs/anvil)")
    demo = Service("demo", "--model", "2nn", "--clients", "2", "--rounds", "3", "--workers", "2",
                   "--home", str(tmp_path), own_group=True)
    group = demo.process.pid
    try:
        demo.wait_for(r"round 1/3: 0/2 clients trained")  # the workers are training
        before = group_members(group)
        assert len(before) >= 4, before  # the demo, two workers, the resource tracker (and Anvil)
        if how == "SIGINT to the group":
            os.killpg(group, signal.SIGINT)
        else:
            demo.process.send_signal(signal.SIGTERM)
        demo.process.wait(ENDS_WITHIN)
        wait_until(lambda: not group_members(group), ENDS_WITHIN, "the demo's processes to end")
    finally:
        if group_members(group):
            os.killpg(group, signal.SIGKILL)
    assert demo.process.returncode == 130
