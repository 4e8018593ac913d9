"""Section 3, side by side with Flower: the same FedAvg experiment in Flower's simulation (in its own
venv, never a dependency of the product) and in ours, on embedded backends and on Ganache + js-ipfs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.demo_runs import command_line, demo_args, run_demo
from bench.real_backends import real_backends
from bench.report import percent, seconds, table
from bench.settings import REPO, SuiteSettings

FLOWER_VENV = REPO / ".venv-flower"
FLOWER_PYTHON = FLOWER_VENV / "bin" / "python"
FLOWER_VERSION = "1.41.0"
# torch pinned exactly (the local CPU wheel); the rest are what mlprocessor imports.
FLOWER_REQUIREMENTS = (f"flwr[simulation]=={FLOWER_VERSION}", "torch==2.13.0", "numpy==2.4.6", "mlxtend==0.25.0",
                       "safetensors==0.8.0")
INSTALL_TIMEOUT = 1800


def ensure_flower_venv() -> None:
    """Create .venv-flower with Flower on first use; a no-op when it is already there."""
    check = [str(FLOWER_PYTHON), "-c", f"import flwr, sys; sys.exit(flwr.__version__ != '{FLOWER_VERSION}')"]
    if FLOWER_PYTHON.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return
    subprocess.run([sys.executable, "-m", "venv", str(FLOWER_VENV)], check=True)
    subprocess.run([str(FLOWER_PYTHON), "-m", "pip", "install", "--quiet", *FLOWER_REQUIREMENTS], check=True,
                   timeout=INSTALL_TIMEOUT)


def flower_args(settings: SuiteSettings) -> list[str]:
    args = ["--model", settings.flower_model, "--clients", str(settings.clients), "--rounds",
            str(settings.flower_rounds), "--partition", "iid", "--epochs", str(settings.epochs), "--batch-size",
            str(settings.batch_size), "--lr", str(settings.lr), "--seed", str(settings.seed)]
    return args + (["--test-data", settings.test_data] if settings.test_data else [])


def run_flower(settings: SuiteSettings) -> dict[str, Any]:
    """Flower's result, or the error that stopped it."""
    args = flower_args(settings)
    command = "PYTHONPATH=. .venv-flower/bin/python bench/flower_side.py " + " ".join(args)
    try:
        ensure_flower_venv()
        with tempfile.TemporaryDirectory(prefix="bench-flower-") as tmp:
            out = Path(tmp) / "flower.json"
            env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", RAY_DEDUP_LOGS="0")
            started = time.perf_counter()
            done = subprocess.run([str(FLOWER_PYTHON), str(REPO / "bench" / "flower_side.py"), *args, "--json",
                                   str(out)], cwd=REPO, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - started
            if done.returncode != 0 or not out.exists():
                return {"command": command, "error": f"exit {done.returncode}: {done.stderr[-1500:]}"}
            return {"command": command, "process_wall_seconds": round(wall, 1), **json.loads(out.read_text())}
    except (OSError, subprocess.SubprocessError) as error:
        return {"command": command, "error": f"{type(error).__name__}: {error}"}


def run_ours(settings: SuiteSettings, **backend: str) -> dict[str, Any]:
    args = demo_args(settings, model=settings.flower_model, partition="iid", rounds=settings.flower_rounds, **backend)
    started = time.perf_counter()
    summary = run_demo(args)
    return {"command": command_line(args), "accuracy": [r["accuracy"] for r in summary["rounds"]],
            "process_wall_seconds": round(time.perf_counter() - started, 1),
            "total_seconds": summary["total_seconds"],
            "training_seconds": round(sum(r["seconds"]["training"] for r in summary["rounds"]), 1)}


def run(settings: SuiteSettings) -> dict[str, Any]:
    flower = run_flower(settings)
    embedded = run_ours(settings)
    with tempfile.TemporaryDirectory(prefix="bench-flower-real-") as tmp, real_backends(Path(tmp)) as backends:
        real = run_ours(settings, **backends.demo_options())
        real["command"] = (real["command"].replace(backends.chain_url, "<ganache URL>")
                           .replace(backends.ipfs_multiaddr, "<js-ipfs API multiaddr>"))
    return {"model": settings.flower_model, "rounds": settings.flower_rounds, "flower": flower,
            "ours_embedded": embedded, "ours_ganache_ipfs": real}


def headline(data: dict[str, Any]) -> list[list[str]]:
    systems = {"Flower": data["flower"], "ours embedded": data["ours_embedded"],
               "ours Ganache + js-ipfs": data["ours_ganache_ipfs"]}
    shown = {name: r for name, r in systems.items() if "error" not in r}
    return [[f"FedAvg {data['model'].upper()} {data['rounds']} rounds: final accuracy, measured wall time "
             f"({', '.join(shown)})",
             "; ".join(f"{percent(r['accuracy'][-1])}, {seconds(r['process_wall_seconds'])}" for r in shown.values()),
             "" if len(shown) == len(systems) else "Flower failed: see section 3"]]


def render(data: dict[str, Any], figures: Path, mode: str) -> str:
    flower = data["flower"]
    if "error" in flower:
        flower_row = [f"Flower {FLOWER_VERSION} simulation", "failed", "-", "-", f"`{flower['error']}`"]
    else:
        flower_row = [f"Flower {FLOWER_VERSION} simulation (Ray, {flower['flower_clients_in_parallel']} clients at "
                      "once)", percent(flower["accuracy"][-1]), seconds(flower["simulation_seconds"]),
                      seconds(flower["process_wall_seconds"]), f"`{flower['command']}`"]
    rows = [flower_row] + [
        [name, percent(r["accuracy"][-1]), seconds(r["total_seconds"]), seconds(r["process_wall_seconds"]),
         f"`{r['command']}`"]
        for name, r in (("ours, embedded EVM + embedded store", data["ours_embedded"]),
                        ("ours, Ganache + js-ipfs daemon", data["ours_ganache_ipfs"]))]
    walls = {row[0]: r for row, r in zip(rows, (flower, data["ours_embedded"], data["ours_ganache_ipfs"]),
                                         strict=True) if "error" not in r}
    fastest = min(walls, key=lambda name: walls[name]["process_wall_seconds"])
    return (f"FedAvg, {data['model'].upper()}, 10 clients, IID, {data['rounds']} rounds, same partition, initial "
            "model, E, B, lr and the same local training and evaluation code (mlprocessor); clients' minibatch "
            "shuffling seeds differ (ours derive them from the client's address). Federated time: Flower's "
            "`run_simulation` call (Ray start-up included) and our demo's own total (deploy, funding and "
            "registration, the rounds, verification of every round). Measured wall time: Flower's process "
            "(interpreter start-up and imports included) and our demo called in the suite's process "
            "(imports already done).\n\n"
            + table(["system", "final accuracy", "federated time", "measured wall time", "command"], rows)
            + f"\n\nFastest here: **{fastest}**.")
