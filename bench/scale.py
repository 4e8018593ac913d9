"""Section 6, scale: 100 clients (2NN) on Ganache + a js-ipfs daemon, run as its own process so
that its peak resident memory (ru_maxrss) is the organization's: the demo process hosts the
organization and all the clients; Ganache and the IPFS daemon are separate processes, not included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.demo_runs import command_line, demo_args
from bench.machine import peak_rss_mib
from bench.real_backends import real_backends
from bench.report import percent, seconds, table
from bench.settings import REPO, SuiteSettings


def run(settings: SuiteSettings) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = Path(tmp)
        with real_backends(work) as backends:
            args = demo_args(settings, model="2nn", clients=settings.scale_clients, rounds=settings.scale_rounds,
                             **backends.demo_options())
            summary_path = work / "summary.json"
            started = time.perf_counter()
            process = subprocess.Popen([sys.executable, str(REPO / "run.py"), "demo", "--home", str(work / "home"),
                                        *args, "--json", str(summary_path)], cwd=REPO,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            _, status, usage = os.wait4(process.pid, 0)
            wall = time.perf_counter() - started
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode != 0:
                raise RuntimeError(f"scale run failed ({process.returncode}): {process.stderr.read().decode()[-2000:]}")
        summary = json.loads(summary_path.read_text())
    rounds = summary["rounds"]
    return {"command": command_line(args).replace(backends.chain_url, "<ganache URL>")
            .replace(backends.ipfs_multiaddr, "<js-ipfs API multiaddr>"),
            "clients": settings.scale_clients, "process_wall_seconds": round(wall, 1),
            "demo_total_seconds": summary["total_seconds"], "peak_rss_mib": peak_rss_mib(usage),
            "rounds": [{"wall_seconds": r["wall_seconds"], "accuracy": r["accuracy"], "seconds": r["seconds"],
                        "gas": r["gas_used"]["open"] + sum(r["gas_used"]["submissions"]) + r["gas_used"]["close"],
                        "accepted": sum(r["accepted"])} for r in rounds]}


def headline(data: dict[str, Any]) -> list[list[str]]:
    return [[f"{data['clients']} clients, 2NN, {len(data['rounds'])} rounds on Ganache + js-ipfs: wall time, "
             "peak memory of the demo process", f"{seconds(data['process_wall_seconds'])}, "
             f"{data['peak_rss_mib']:.0f} MiB", ""]]


def render(data: dict[str, Any], figures: Path, mode: str) -> str:
    rows = [[i, f"{r['accepted']}/{data['clients']}", f"{r['wall_seconds']:.1f} s", f"{r['seconds']['chain']:.1f} s",
             f"{r['seconds']['ipfs']:.1f} s", f"{r['seconds']['training']:.1f} s", percent(r["accuracy"]), r["gas"]]
            for i, r in enumerate(data["rounds"], start=1)]
    return (f"`{data['command']}`, as a separate process on a private Ganache and js-ipfs daemon.\n\n"
            f"- Wall time of the whole process (start-up, deploy, funding and registering {data['clients']} clients, "
            f"the rounds, verification of every round): **{seconds(data['process_wall_seconds'])}** "
            f"(the demo's own count, after imports: {seconds(data['demo_total_seconds'])}).\n"
            f"- Peak resident memory (ru_maxrss) of that process: **{data['peak_rss_mib']:.0f} MiB**. It is the "
            "organization *and* all its clients (the demo hosts both: every client's data, models and "
            "thread-pool work, torch, web3, the verification of every round at the end); Ganache and the IPFS "
            "daemon are other processes and are not counted.\n\n"
            + table(["round", "updates accepted", "wall", "chain (summed)", "IPFS (summed)", "training (summed)",
                     "test accuracy", "gas in round"], rows))
