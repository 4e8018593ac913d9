"""Section 4, overhead: seconds per round by phase for the CNN and the 2NN (full protocol,
embedded backends), and the protocol's overhead as a fraction of local training time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.demo_runs import command_line, demo_args, run_demo
from bench.report import table
from bench.settings import SuiteSettings
from protocol.timing import PHASES

OVERHEAD_PHASES = ("serialization", "ipfs", "chain", "aggregation")  # not training, not evaluation
TARGET = 0.10


def run(settings: SuiteSettings) -> dict[str, Any]:
    runs = []
    for model in ("cnn", "2nn"):
        for epochs in settings.overhead_epochs:
            args = demo_args(settings, model=model, rounds=settings.overhead_rounds, epochs=epochs)
            summary = run_demo(args)
            runs.append({"model": model, "epochs": epochs, "command": command_line(args),
                         "workers": summary["workers"], "torch_threads": summary["torch_threads"],
                         "rounds": [{"seconds": r["seconds"], "wall_seconds": r["wall_seconds"]}
                                    for r in summary["rounds"]]})
    return {"runs": runs}


def ratio(rounds: list[dict[str, Any]]) -> float:
    overhead = sum(r["seconds"][p] for r in rounds for p in OVERHEAD_PHASES)
    return overhead / sum(r["seconds"]["training"] for r in rounds)


def later_ratio(rounds: list[dict[str, Any]]) -> float:
    """Overhead over training from round 2 on (round 1 carries one-off warm-up)."""
    return ratio(rounds[1:] if len(rounds) > 1 else rounds)


def headline(data: dict[str, Any]) -> list[list[str]]:
    return [[f"Overhead / local training, {r['model'].upper()} E={r['epochs']}, 10 clients (rounds 2+)",
             f"{100 * later_ratio(r['rounds']):.1f}%",
             "<= 10%: " + ("met" if later_ratio(r["rounds"]) <= TARGET else "**missed**")] for r in data["runs"]]


def render(data: dict[str, Any], figures: Path, mode: str) -> str:
    rows = []
    for run in data["runs"]:
        rounds = run["rounds"]
        mean = {p: sum(r["seconds"][p] for r in rounds) / len(rounds) for p in PHASES}
        wall = sum(r["wall_seconds"] for r in rounds) / len(rounds)
        later = later_ratio(rounds)
        verdict = "meets" if later <= TARGET else "**misses**"
        rows.append([f"{run['model'].upper()} E={run['epochs']}", *(f"{mean[p]:.2f}" for p in PHASES),
                     f"{wall:.2f}", f"{100 * ratio(rounds):.1f}%", f"{100 * later:.1f}% ({verdict})"])
    first = data["runs"][0]
    return (f"10 clients, {len(first['rounds'])} rounds each, {first['workers']} clients training at once with "
            f"{first['torch_threads']} torch thread(s) each. Phase seconds are per round, summed over clients "
            "(client phases run concurrently, so they add up to more than the wall time). Overhead = serialization "
            "+ IPFS + chain + validation/aggregation, as a fraction of local training time; round 1 carries "
            "one-off warm-up, so the target (<= 10%) is judged on rounds 2 onward.\n\n"
            + table(["run", *PHASES, "wall per round", "overhead / training (all rounds)",
                     "overhead / training (rounds 2+)"], rows)
            + "\n\nCommands: " + "; ".join(f"`{r['command']}`" for r in data["runs"]))
