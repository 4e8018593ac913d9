"""A demo round as the user sees it: one line on the terminal and one object in the JSON summary,
built the same way for plain and secure rounds."""

from __future__ import annotations

from typing import Any

from organization.service import RoundOutcome
from protocol.timing import PhaseTimer


def outcome_record(round_id: int, outcome: RoundOutcome, timer: PhaseTimer, wall: float) -> dict[str, Any]:
    """The summary fields every round has, whatever its kind; `timer` holds every party's phases."""
    return {
        "round": round_id, "state": str(outcome.state), "accuracy": outcome.accuracy, "loss": outcome.loss,
        "base_cid": str(outcome.base_cid), "result_cid": str(outcome.result_cid) if outcome.result_cid else None,
        "accepted": outcome.accepted, "rejections": outcome.to_json()["rejections"],
        "seconds": timer.totals(), "wall_seconds": round(wall, 3),
    }


def round_line(record: dict[str, Any], total: int, continual: bool) -> str:
    """`round n/R: <accuracy>, <what happened>, <seconds> -> <result CID>`; a continual run shows the
    accuracy on every task seen so far (the organization's own test set is task 0's alone)."""
    if record.get("secure"):
        happened = (f"secure, {len(record['update_cids'])} masked updates, {record['dropped']} dropped, "
                    f"{len(record['reveals'])} share reveals")
    else:
        loss = record["loss"] if record["loss"] is not None else float("nan")
        happened = f"loss {loss:.4f}, {sum(record['accepted'])}/{len(record['update_cids'])} updates accepted"
    return (f"round {record['round']}/{total}: {accuracy_text(record, continual)}, {happened}, "
            f"{record['wall_seconds']:.1f}s -> {record['result_cid']}")


def accuracy_text(record: dict[str, Any], continual: bool) -> str:
    """`test accuracy X`, or in a continual run the round's task and its accuracy on every task so far."""
    if not continual:
        return f"test accuracy {_percent(record['accuracy'])}"
    accuracies = record.get("task_accuracies")
    if not accuracies:
        return f"task {record['task']}, no result"
    per_task = ", ".join(f"task {task} {_percent(value)}" for task, value in enumerate(accuracies))
    return f"task {record['task']}; accuracy per task: {per_task} (mean {_percent(sum(accuracies) / len(accuracies))})"


def _percent(value: float | None) -> str:
    return f"{value:.2%}" if value is not None else "-"
