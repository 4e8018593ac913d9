"""Section 8, round time against round number: the same work every round for many rounds on the
default backends; per-round chain work must not grow with the history (a flat line)."""

from __future__ import annotations

from pathlib import Path
from statistics import median
from typing import Any

from bench.demo_runs import command_line, demo_args, run_demo
from bench.plots import seconds_plot
from bench.report import seconds
from bench.settings import SuiteSettings

FLATNESS_TARGET = 1.2  # the last rounds' median within 20% of the early rounds' (rounds 2-6)


def run(settings: SuiteSettings) -> dict[str, Any]:
    args = demo_args(settings, model="2nn", rounds=settings.timing_rounds, epochs=1)
    summary = run_demo(args)
    return {"command": command_line(args), "chain": summary["chain"], "clients_in": summary["clients_in"],
            "process_wall_seconds": summary["process_wall_seconds"],
            "wall": [r["wall_seconds"] for r in summary["rounds"]],
            "chain_seconds": [r["seconds"]["chain"] for r in summary["rounds"]],
            "requests": [r["organization_rpc"]["requests"] for r in summary["rounds"]],
            "log_blocks": [r["organization_rpc"]["log_blocks"] for r in summary["rounds"]]}


def growth(values: list[float]) -> float:
    """Median of the last five rounds over the median of rounds 2-6 (round 1 has the warm-up)."""
    return median(values[-5:]) / median(values[1:6])


def headline(data: dict[str, Any]) -> list[list[str]]:
    rows = [[f"Round time, last five of {len(data['wall'])} rounds / rounds 2-6 (same work every round)",
             f"{growth(data['wall']):.2f}x",
             "flat (<= 1.2x): " + ("met" if growth(data["wall"]) <= FLATNESS_TARGET else "**missed**")]]
    if "requests" in data:
        rows.append([f"Organization's JSON-RPC requests and log-scanned blocks per round, last five of "
                     f"{len(data['wall'])} / rounds 2-6", f"{growth(data['requests']):.2f}x, "
                     f"{growth(data['log_blocks']):.2f}x", "flat (<= 1.2x): " + (
                         "met" if max(growth(data["requests"]), growth(data["log_blocks"])) <= FLATNESS_TARGET
                         else "**missed**")])
    return rows


def render(data: dict[str, Any], figures: Path, mode: str) -> str:
    name = f"rounds-{mode}.png"
    seconds_plot(figures / name, f"Round time against round number ({len(data['wall'])} rounds)",
                 {"round wall time": data["wall"], "chain seconds (summed over participants)": data["chain_seconds"]})
    return (f"`{data['command']}` on {data['chain']} (clients in {data['clients_in']}); whole process "
            f"{seconds(data['process_wall_seconds'])}. Round wall time: rounds 2-6 median "
            f"{median(data['wall'][1:6]):.2f} s, last five rounds' median {median(data['wall'][-5:]):.2f} s "
            f"(**{growth(data['wall']):.2f}x**); chain seconds per round {median(data['chain_seconds'][1:6]):.2f} s "
            f"then {median(data['chain_seconds'][-5:]):.2f} s"
            + (f"; the organization's JSON-RPC requests per round {median(data['requests'][1:6]):.0f} then "
               f"{median(data['requests'][-5:]):.0f}, blocks its log queries covered "
               f"{median(data['log_blocks'][1:6]):.0f} then {median(data['log_blocks'][-5:]):.0f}"
               if "requests" in data else "")
            + ". Seconds on a shared machine follow its load; the request counts do not.\n\n"
            f"![round time against round number](bench/{name})")
