"""`run.py demo --tasks`: every round reports its task and the accuracy on each task seen so far,
and the clients consolidate when the task changes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.protocol.test_demo import run_py


def test_continual_demo_reports_tasks_and_consolidates(tmp_path: Path) -> None:
    summary_path = tmp_path / "summary.json"
    run_py("demo", "--model", "2nn", "--clients", "2", "--tasks", "2", "--rounds-per-task", "1", "--epochs", "1",
           "--lr", "0.1", "--home", str(tmp_path), "--json", str(summary_path))
    summary = json.loads(summary_path.read_text())
    rounds = summary["rounds"]
    assert [r["task"] for r in rounds] == [0, 1]
    assert [len(r["task_accuracies"]) for r in rounds] == [1, 2]
    assert rounds[0]["task_accuracies"][0] > 0.6 and rounds[1]["task_accuracies"][1] > 0.6
    assert summary["config"]["ewc_lambda"] == 100 and all(v["ok"] for v in summary["verified"])
    records = [json.loads(p.read_text()) for p in (tmp_path / "demo-runs").glob("*/*/data.json")]
    assert len(records) == 2
    assert all(r["version"] == 2 and [c["round"] for c in r["consolidations"]] == [2] for r in records)
