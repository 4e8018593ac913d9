"""`run.py demo --continual-tasks`: every round reports its task and the accuracy on each task seen so
far, the run narrates task switches and consolidations, and the plain demo then runs in the same home,
giving the same CIDs every time (client state is the run's own: the same address, on a fresh private
chain, no longer brings back another run's, another model's state)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.processes import SMALL_DEMO, DemoRun, run_py

pytestmark = pytest.mark.costly  # a minute or so of end-to-end runs: scheduled first (tests/conftest.py)


def test_continual_demo_narrates_tasks_then_the_plain_demo_reruns_alike(small_demo: DemoRun, tmp_path: Path) -> None:
    """In a copy of the home of a plain run (small_demo): the continual run, then the plain run again."""
    shutil.copytree(small_demo.home, tmp_path, dirs_exist_ok=True)
    summary_path = tmp_path / "summary.json"
    continual = run_py("demo", "--model", "2nn", "--clients", "2", "--continual-tasks", "2", "--rounds-per-task",
                       "1", "--epochs", "1", "--lr", "0.1", "--home", str(tmp_path), "--json", str(summary_path))
    summary = json.loads(summary_path.read_text())
    rounds = summary["rounds"]
    assert [r["task"] for r in rounds] == [0, 1]
    assert [len(r["task_accuracies"]) for r in rounds] == [1, 2]
    assert rounds[0]["task_accuracies"][0] > 0.6 and rounds[1]["task_accuracies"][1] > 0.6
    assert summary["config"]["ewc_lambda"] == 100 and all(v["ok"] for v in summary["verified"])
    records = [json.loads(p.read_text()) for p in (tmp_path / "demo-runs").glob("*/*/data.json")]
    assert len(records) == 2
    assert all(r["version"] == 2 and [c["round"] for c in r["consolidations"]] == [2] for r in records)

    said = continual.stdout.splitlines()
    assert "task 0 of 2 (rounds 1-1): the plain images" in said
    assert any(line.startswith("task 1 of 2 (rounds 2-2): every client switches to pixel permutation 1; each "
                               "client consolidates EWC (lambda 100)") for line in said)
    assert "round 2: 2/2 clients consolidated their EWC memory" in said
    assert any(line.startswith("round 2/2: task 1; accuracy per task: task 0 ") for line in said)
    assert not any("test accuracy" in line for line in said)

    path = tmp_path / "plain-again.json"  # after a plain run and a continual one in this home
    run_py("demo", *SMALL_DEMO, "--workers", "2", "--home", str(tmp_path), "--json", str(path))  # fails if non-zero
    first, second = small_demo.summary["rounds"], json.loads(path.read_text())["rounds"]
    assert [r["result_cid"] for r in first] == [r["result_cid"] for r in second]
    # clients in processes race to submit
    assert [sorted(r["update_cids"]) for r in first] == [sorted(r["update_cids"]) for r in second]
