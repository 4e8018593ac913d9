"""Section 3, side by side: the same FedAvg experiment as a framework-free sequential loop of plain
torch (bench/fedavg_loop.py), in Flower's simulation (in its own venv, never a dependency of the
product), and in ours on the default backends and on Ganache + js-ipfs; wall time against the loop's."""

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


def run_loop(settings: SuiteSettings) -> dict[str, Any]:
    """The framework-free sequential FedAvg loop (bench/fedavg_loop.py) as its own process."""
    args = flower_args(settings)
    with tempfile.TemporaryDirectory(prefix="bench-loop-") as tmp:
        out = Path(tmp) / "loop.json"
        started = time.perf_counter()
        subprocess.run([sys.executable, str(REPO / "bench" / "fedavg_loop.py"), *args, "--json", str(out)],
                       cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1"), check=True,
                       capture_output=True)
        wall = time.perf_counter() - started
        return {"command": "PYTHONPATH=. .venv/bin/python bench/fedavg_loop.py " + " ".join(args),
                "process_wall_seconds": round(wall, 1), **json.loads(out.read_text())}


def run_ours(settings: SuiteSettings, **backend: str) -> dict[str, Any]:
    args = demo_args(settings, model=settings.flower_model, partition="iid", rounds=settings.flower_rounds, **backend)
    summary = run_demo(args)
    return {"command": command_line(args), "accuracy": [r["accuracy"] for r in summary["rounds"]],
            "process_wall_seconds": summary["process_wall_seconds"], "total_seconds": summary["total_seconds"],
            "chain": summary["chain"], "clients_in": summary["clients_in"], "workers": summary["workers"],
            "training_seconds": round(sum(r["seconds"]["training"] for r in summary["rounds"]), 1)}


def run(settings: SuiteSettings) -> dict[str, Any]:
    """Each system once, in turn; every wall time is a whole process's (start-up and imports included)."""
    loop = run_loop(settings)
    flower = run_flower(settings)
    default = run_ours(settings)
    with tempfile.TemporaryDirectory(prefix="bench-flower-real-") as tmp, real_backends(Path(tmp)) as backends:
        real = run_ours(settings, **backends.demo_options())
        real["command"] = backends.anonymous(real["command"])
    return {"model": settings.flower_model, "rounds": settings.flower_rounds, "loop": loop, "flower": flower,
            "ours_default": default, "ours_ganache_ipfs": real}


TARGETS = {"ours_default": 1.0, "ours_ganache_ipfs": 1.3}
NAMES = {"loop": "framework-free sequential loop (plain torch)", "flower": f"Flower {FLOWER_VERSION} simulation",
         "ours_default": "ours, default backends (private Anvil, embedded store)",
         "ours_ganache_ipfs": "ours, Ganache + js-ipfs daemon"}


def _ratio(data: dict[str, Any], key: str) -> float | None:
    run = data.get(key, {})
    return None if "error" in run or "process_wall_seconds" not in run else (
        run["process_wall_seconds"] / data["loop"]["process_wall_seconds"])


def _verdict(data: dict[str, Any], key: str) -> str:
    ratio = _ratio(data, key)
    if key not in TARGETS:
        return ""
    if ratio is None:
        return "not measured"
    return f"<= {TARGETS[key]:.1f}x: " + ("met" if ratio <= TARGETS[key] else "**missed**")


def headline(data: dict[str, Any]) -> list[list[str]]:
    rows = []
    for key in ("flower", "ours_default", "ours_ganache_ipfs"):
        ratio = _ratio(data, key)
        if ratio is not None:
            rows.append([f"FedAvg {data['model'].upper()} {data['rounds']} rounds, wall time / framework-free loop's: "
                         f"{NAMES[key]}", f"{ratio:.2f}x", _verdict(data, key)])
    return rows


def render(data: dict[str, Any], figures: Path, mode: str) -> str:
    rows = []
    for key in ("loop", "flower", "ours_default", "ours_ganache_ipfs"):
        run = data[key]
        if "error" in run:
            rows.append([NAMES[key], "failed", "-", "-", "", f"`{run['error'][:300]}`"])
            continue
        ratio = _ratio(data, key)
        rows.append([NAMES[key], percent(run["accuracy"][-1]), seconds(run["process_wall_seconds"]),
                     f"{ratio:.2f}x" if ratio is not None else "-", _verdict(data, key), f"`{run['command']}`"])
    ours = data["ours_default"]
    return (f"FedAvg, {data['model'].upper()}, 10 clients, IID, {data['rounds']} rounds, the same partition, initial "
            "model, E, B and lr, an evaluation on the test set after every round; each system run once, in turn, "
            "as its own process, wall time from start to exit (interpreter start-up, imports and data loading "
            "included). The loop trains the clients one after the other in one process with one torch thread; "
            "Flower runs its Ray simulation with one CPU per client; ours deploys the contract, funds and "
            "registers the clients, runs the rounds with every transaction, IPFS transfer and validation, and "
            f"verifies every round at the end (clients in {ours.get('clients_in', '?')}, "
            f"{ours.get('workers', '?')} at once, one torch thread each).\n\n"
            + table(["system", "final accuracy", "wall time", "/ loop", "target", "command"], rows))
