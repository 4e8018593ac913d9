"""Section 6, scale: 100 clients (2NN) on Anvil + js-ipfs and on Ganache + js-ipfs. The clients train
in worker processes, so the demo process's peak resident memory is the organization's (plus the
chain reads and verification it does); the chain node and the IPFS daemon are other processes."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench.demo_runs import command_line, demo_args, run_demo
from bench.overhead import coordination_share
from bench.real_backends import CHAINS, real_backends
from bench.report import percent, seconds, table
from bench.settings import SuiteSettings

SHARE_TARGET = 0.25
RSS_TARGET_MIB = 600


def run_on(settings: SuiteSettings, chain: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp, real_backends(Path(tmp), chain) as backends:
        args = demo_args(settings, model="2nn", clients=settings.scale_clients, rounds=settings.scale_rounds,
                         **backends.demo_options())
        summary = run_demo(args)
    rounds = summary["rounds"]
    return {"command": backends.anonymous(command_line(args)), "chain": chain, "clients": settings.scale_clients,
            "process_wall_seconds": summary["process_wall_seconds"], "demo_total_seconds": summary["total_seconds"],
            "peak_rss_mib": summary["peak_rss_mib"], "clients_in": summary["clients_in"],
            "rounds": [{"wall_seconds": r["wall_seconds"], "accuracy": r["accuracy"], "seconds": r["seconds"],
                        "gas": r["gas_used"]["open"] + sum(r["gas_used"]["submissions"]) + r["gas_used"]["close"],
                        "accepted": sum(r["accepted"])} for r in rounds]}


def run(settings: SuiteSettings) -> dict[str, Any]:
    return {"runs": [run_on(settings, chain) for chain in CHAINS]}


def _share(run: dict[str, Any]) -> float:
    return coordination_share(run["rounds"])


def headline(data: dict[str, Any]) -> list[list[str]]:
    rows = []
    for run in data["runs"]:
        share, rss = _share(run), run["peak_rss_mib"]
        rows.append([f"{run['clients']} clients x {len(run['rounds'])} rounds, 2NN, {run['chain']} + js-ipfs: wall, "
                     "coordination share, organization RSS",
                     f"{seconds(run['process_wall_seconds'])}, {percent(share, 1)}, {rss:.0f} MiB",
                     f"share <= 25%: {'met' if share <= SHARE_TARGET else '**missed**'}; RSS <= 600 MiB: "
                     f"{'met' if rss <= RSS_TARGET_MIB else '**missed**'}"])
    return rows


def render(data: dict[str, Any], figures: Path, mode: str) -> str:
    parts = []
    for run in data["runs"]:
        rows = [[i, f"{r['accepted']}/{run['clients']}", f"{r['wall_seconds']:.1f} s", f"{r['seconds']['chain']:.1f} s",
                 f"{r['seconds']['ipfs']:.1f} s", f"{r['seconds']['training']:.1f} s", percent(r["accuracy"]),
                 r["gas"]] for i, r in enumerate(run["rounds"], start=1)]
        parts.append(
            f"**{run['chain'].capitalize()} + js-ipfs**: `{run['command']}` (clients in {run['clients_in']}).\n\n"
            f"- Wall time of the whole process (start-up, deploy, funding and registering {run['clients']} clients, "
            f"the rounds, verification of every round): **{seconds(run['process_wall_seconds'])}**.\n"
            f"- Coordination share (chain + IPFS + serialization + validation/aggregation, of all phase time): "
            f"**{percent(_share(run), 1)}** (target <= 25%).\n"
            f"- Peak resident memory of the demo process (the organization; clients are in worker processes): "
            f"**{run['peak_rss_mib']:.0f} MiB** (target <= 600 MiB).\n\n"
            + table(["round", "updates accepted", "wall", "chain (summed)", "IPFS (summed)", "training (summed)",
                     "test accuracy", "gas in round"], rows))
    return "\n\n".join(parts)
