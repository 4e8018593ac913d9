"""Section 4, overhead: seconds per round by phase for the CNN and the 2NN at E=1 and E=5 (full
protocol, default backends), and the coordination share of the round."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.demo_runs import command_line, demo_args, run_demo
from bench.report import table
from bench.settings import SuiteSettings
from protocol.timing import PHASES

COORDINATION_PHASES = ("serialization", "ipfs", "chain", "aggregation")  # not training, not evaluation
TARGET = 0.10  # at E=5


def run(settings: SuiteSettings) -> dict[str, Any]:
    runs = []
    for model in ("cnn", "2nn"):
        for epochs in settings.overhead_epochs:
            args = demo_args(settings, model=model, rounds=settings.overhead_rounds, epochs=epochs)
            summary = run_demo(args)
            runs.append({"model": model, "epochs": epochs, "command": command_line(args),
                         "workers": summary["workers"], "torch_threads": summary["torch_threads"],
                         "clients_in": summary["clients_in"], "chain": summary["chain"],
                         "rounds": [{"seconds": r["seconds"], "wall_seconds": r["wall_seconds"]}
                                    for r in summary["rounds"]]})
    return {"runs": runs}


def coordination_share(rounds: list[dict[str, Any]]) -> float:
    """Coordination's share of all the work of the rounds (phase seconds summed over participants:
    clients train at once, so this is the share of the round's wall time when the cores are busy)."""
    coordination = sum(r["seconds"][p] for r in rounds for p in COORDINATION_PHASES)
    return coordination / sum(r["seconds"][p] for r in rounds for p in PHASES)


def later(rounds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rounds 2 onward (round 1 carries one-off warm-up: worker start-up, first estimates)."""
    return rounds[1:] if len(rounds) > 1 else rounds


def _verdict(run: dict[str, Any]) -> str:
    if run["epochs"] < 5:
        return "(target is for E=5)"
    return "<= 10%: " + ("met" if coordination_share(later(run["rounds"])) <= TARGET else "**missed**")


def headline(data: dict[str, Any]) -> list[list[str]]:
    return [[f"Coordination share of a round, {r['model'].upper()} E={r['epochs']}, 10 clients (rounds 2+)",
             f"{100 * coordination_share(later(r['rounds'])):.1f}%", _verdict(r)] for r in data["runs"]]


def render(data: dict[str, Any], figures: Path, mode: str) -> str:
    rows = []
    for run in data["runs"]:
        rounds = run["rounds"]
        mean = {p: sum(r["seconds"][p] for r in rounds) / len(rounds) for p in PHASES}
        wall = sum(r["wall_seconds"] for r in rounds) / len(rounds)
        rows.append([f"{run['model'].upper()} E={run['epochs']}", *(f"{mean[p]:.2f}" for p in PHASES),
                     f"{wall:.2f}", f"{100 * coordination_share(rounds):.1f}%",
                     f"{100 * coordination_share(later(rounds)):.1f}% {_verdict(run)}"])
    first = data["runs"][0]
    return (f"10 clients, {len(first['rounds'])} rounds each, on {first.get('chain', '?')}; clients in "
            f"{first.get('clients_in', '?')}, {first['workers']} at once with {first['torch_threads']} torch thread "
            "each. Phase seconds are per round, summed over participants (clients run at once, so they add up to "
            "more than the wall time). Coordination = serialization + IPFS + chain + validation/aggregation; its "
            "share is of all phase time; round 1 carries one-off warm-up (worker start-up), so the target "
            "(<= 10% at E=5) is judged on rounds 2 onward.\n\n"
            + table(["run", *PHASES, "wall per round", "coordination (all rounds)", "coordination (rounds 2+)"], rows)
            + "\n\nCommands: " + "; ".join(f"`{r['command']}`" for r in data["runs"]))
