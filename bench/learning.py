"""Section 1, learning: accuracy per round of FedAvg, FedProx, EWC and FedCurv on three partitions,
run through the full protocol (`run.py demo`), against centralized training on the same data."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from bench.demo_runs import command_line, demo_args, run_demo
from bench.plots import accuracy_plot
from bench.report import percent, seconds, table
from bench.settings import SuiteSettings
from mlprocessor.data import load_data
from mlprocessor.evaluation import evaluate
from mlprocessor.models import initial_state, model_from_state
from mlprocessor.training import TrainConfig, train_local

TARGETS = (0.95, 0.97)
GAP_TARGET_PP = 0.5  # FedAvg IID vs centralized, percentage points


def method_options(method: str, settings: SuiteSettings) -> dict[str, Any]:
    """Demo options that select a learning method."""
    return {
        "fedavg": {},
        "fedprox": {"strategy": "fedprox", "mu": settings.fedprox_mu},
        "ewc": {"ewc_lambda": settings.ewc_lambda},
        "fedcurv": {"fedcurv_lambda": settings.fedcurv_lambda},
    }[method]


def learning_args(settings: SuiteSettings, model: str, scheme: str, method: str, rounds: int) -> list[str]:
    options: dict[str, Any] = {"model": model, "partition": scheme, "rounds": rounds,
                               **method_options(method, settings)}
    if scheme == "dirichlet":
        options["alpha"] = settings.dirichlet_alpha
    return demo_args(settings, **options)


def centralized(model: str, settings: SuiteSettings) -> list[float]:
    """Test accuracy after each epoch of plain SGD on all the training data (same B and lr)."""
    torch.set_num_threads(1)
    train, test = load_data("mnist-5k", settings.test_data)
    state = initial_state(model, seed=settings.seed)
    accuracies = []
    for epoch in range(1, settings.central_epochs + 1):
        state = train_local(model, state, train, TrainConfig(1, settings.batch_size, settings.lr, seed=epoch)).state
        accuracies.append(evaluate(model_from_state(model, state), test).accuracy)
    return accuracies


def rounds_to(accuracies: list[float], target: float) -> int | None:
    return next((i for i, a in enumerate(accuracies, start=1) if a >= target), None)


def run(settings: SuiteSettings) -> dict[str, Any]:
    models: dict[str, Any] = {}
    for model, scheme, method in settings.learning_runs:
        args = learning_args(settings, model, scheme, method, settings.learning_rounds)
        started = time.perf_counter()
        summary = run_demo(args)
        models.setdefault(model, {"runs": []})["runs"].append({
            "partition": scheme, "method": method, "command": command_line(args),
            "accuracy": [r["accuracy"] for r in summary["rounds"]],
            "wall_seconds": round(time.perf_counter() - started, 1)})
    for model, result in models.items():
        result["centralized"] = centralized(model, settings)
    return {"models": models}


def iid_gap(result: dict[str, Any]) -> tuple[list[float], float] | None:
    """FedAvg IID's accuracies and how many points below centralized training's final accuracy it ends."""
    for run in result["runs"]:
        if run["partition"] == "iid" and run["method"] == "fedavg":
            return run["accuracy"], 100 * (result["centralized"][-1] - run["accuracy"][-1])
    return None


def gap_verdict(gap: float) -> str:
    return "met" if gap <= GAP_TARGET_PP else "**missed**"


def render(data: dict[str, Any], figures: Path, mode: str) -> str:
    parts = []
    for model, result in data["models"].items():
        central = result["centralized"]
        curves = {f"{r['partition']} {r['method']}": r["accuracy"] for r in result["runs"]}
        figure = figures / f"learning-{model}-{mode}.png"
        accuracy_plot(figure, f"{model.upper()}: test accuracy per round ({mode} run)", curves,
                      references={f"centralized, after {len(central)} epochs": central[-1]})
        rows = [[r["partition"], r["method"], percent(r["accuracy"][-1]), percent(max(r["accuracy"])),
                 *(rounds_to(r["accuracy"], t) or f"> {len(r['accuracy'])}" for t in TARGETS),
                 seconds(r["wall_seconds"])] for r in result["runs"]]
        parts.append(f"#### {model.upper()}\n\n![{model} learning curves](bench/{figure.name})\n\n" + table(
            ["partition", "method", "final accuracy", "best accuracy", "rounds to 95%", "rounds to 97%",
             "wall time"], rows))
        parts.append(f"Centralized reference ({len(central)} epochs of SGD on all 5,000 images, same B and lr): "
                     f"final {percent(central[-1])}, best {percent(max(central))}.")
        if (found := iid_gap(result)) is not None:
            accuracy, gap = found
            parts.append(f"FedAvg IID after {len(accuracy)} rounds ends {gap:.2f} pp below centralized training's "
                         f"final accuracy; target <= {GAP_TARGET_PP} pp: {gap_verdict(gap)}.")
        parts.append("Commands: " + "; ".join(f"`{r['command']}`" for r in result["runs"]))
    return "\n\n".join(parts)


def headline(data: dict[str, Any]) -> list[list[str]]:
    rows = []
    for model, result in data["models"].items():
        if (found := iid_gap(result)) is None:
            continue
        accuracy, gap = found
        rounds = len(accuracy)
        rows.append([f"{model.upper()} FedAvg IID after {rounds} rounds vs centralized",
                     f"{percent(accuracy[-1])} vs {percent(result['centralized'][-1])} ({gap:+.2f} pp below)",
                     f"<= {GAP_TARGET_PP} pp: {gap_verdict(gap)}"])
        rows.append([f"{model.upper()} FedAvg IID rounds to 95% / 97%",
                     " / ".join(str(rounds_to(accuracy, t) or f"> {rounds}") for t in TARGETS), ""])
    return rows
