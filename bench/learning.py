"""Section 1, learning: accuracy per round of FedAvg, FedProx, FedCurv, EWC, FedAvgM and FedAdam on
the IID, shards and Dirichlet partitions, against centralized training on the same data.

Runs use the lean in-process federation (bench/lean_federation.py: the services' training and
aggregation code without chain and IPFS): 50-round runs of 10 clients through the whole stack do
not fit this shared 2-core machine. Each run is kept in docs/bench/runs/ as it finishes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from bench.lean_federation import LeanFederation, Method
from bench.plots import accuracy_plot
from bench.report import percent, seconds, table
from bench.run_cache import cached_run
from bench.settings import SuiteSettings
from mlprocessor.aggregation import FedAdam, FedAvg, FedAvgM
from mlprocessor.evaluation import evaluate
from mlprocessor.models import initial_state, model_from_state
from mlprocessor.partition import partition
from mlprocessor.training import TrainConfig, train_local
from tasks.mnist import load_mnist

TARGETS = (0.95, 0.97)
GAP_TARGET_PP = 0.5  # FedAvg IID vs centralized, percentage points
SHARDS_TARGET = 0.90  # 2NN on shards after 50 rounds, best rule


def method(name: str, settings: SuiteSettings) -> Method:
    """The learning method a run name selects."""
    return {
        "fedavg": Method(),
        "fedprox": Method(FedAvg(client_mu=settings.fedprox_mu), mu=settings.fedprox_mu),
        "ewc": Method(ewc_lambda=settings.ewc_lambda),
        "fedcurv": Method(fedcurv_lambda=settings.fedcurv_lambda),
        "fedavgm": Method(FedAvgM()),
        "fedadam": Method(FedAdam()),
    }[name]


def run_one(settings: SuiteSettings, model: str, scheme: str, name: str, rounds: int) -> dict[str, Any]:
    torch.set_num_threads(1)
    train, test = load_mnist("mnist-5k", settings.test_data)
    parts = partition(train.y, settings.clients, scheme, seed=settings.seed, alpha=settings.dirichlet_alpha)
    federation = LeanFederation(model, [train.subset(p) for p in parts], method(name, settings), settings.epochs,
                                settings.batch_size, settings.lr, settings.seed, settings.fisher_samples)
    return {"accuracy": [evaluate(model_from_state(model, federation.run_round()), test).accuracy
                         for _ in range(rounds)]}


def centralized(model: str, settings: SuiteSettings) -> list[float]:
    """Test accuracy after each epoch of plain SGD on all the training data (same B and lr)."""
    torch.set_num_threads(1)
    train, test = load_mnist("mnist-5k", settings.test_data)
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
    missing: list[str] = []
    for model, scheme, name in settings.learning_runs:
        rounds = settings.learning_rounds[model]
        key = {"model": model, "partition": scheme, "method": name, "rounds": rounds, "clients": settings.clients,
               "epochs": settings.epochs, "batch_size": settings.batch_size, "lr": settings.lr, "seed": settings.seed,
               "alpha": settings.dirichlet_alpha if scheme == "dirichlet" else None,
               "fedprox_mu": settings.fedprox_mu, "ewc_lambda": settings.ewc_lambda,
               "fedcurv_lambda": settings.fedcurv_lambda, "test_data": bool(settings.test_data)}
        record = cached_run(f"learning-{model}-{scheme}-{name}", key,
                            lambda m=model, p=scheme, n=name, r=rounds: run_one(settings, m, p, n, r),
                            settings.compute_missing)
        if record is None:  # another process is still computing it, or --cached-only
            missing.append(f"{model}:{scheme}:{name}")
        else:
            models.setdefault(model, {"runs": []})["runs"].append({
                "partition": scheme, "method": name, "command": record["command"],
                "accuracy": record["data"]["accuracy"], "wall_seconds": record["seconds"],
                "load": record["load_before"]["one_minute"]})
    for model, result in models.items():
        record = cached_run(f"centralized-{model}", {"model": model, "epochs": settings.central_epochs,
                                                     "test_data": bool(settings.test_data)},
                            lambda m=model: {"accuracy": centralized(m, settings)}, settings.compute_missing)
        result["centralized"] = record["data"]["accuracy"] if record is not None else []
    return {"models": models, "missing": missing}


def iid_gap(result: dict[str, Any]) -> tuple[list[float], float] | None:
    """FedAvg IID's accuracies and how many points below centralized training's final accuracy it ends."""
    for run in result["runs"]:
        if run["partition"] == "iid" and run["method"] == "fedavg" and result["centralized"]:
            return run["accuracy"], 100 * (result["centralized"][-1] - run["accuracy"][-1])
    return None


def gap_verdict(gap: float) -> str:
    return "met" if gap <= GAP_TARGET_PP else "**missed**"


def best_on_shards(result: dict[str, Any]) -> tuple[str, float, int] | None:
    """The rule with the best final accuracy on shards: (method, accuracy, rounds)."""
    runs = [r for r in result["runs"] if r["partition"] == "shards"]
    if not runs:
        return None
    best = max(runs, key=lambda r: r["accuracy"][-1])
    return best["method"], best["accuracy"][-1], len(best["accuracy"])


def shards_verdict(found: tuple[str, float, int]) -> str:
    name, accuracy, rounds = found
    met = accuracy >= SHARDS_TARGET and rounds >= 50
    return (f"best rule {name}: {percent(accuracy)} after {rounds} rounds; target >= {percent(SHARDS_TARGET, 0)} "
            f"after 50: {'met' if met else '**missed**'}")


def render(data: dict[str, Any], figures: Path, mode: str) -> str:
    parts = ["10 clients, E=5, B=10, lr=0.05; Dirichlet alpha 0.3; FedProx mu 0.01, FedCurv lambda 1, EWC lambda "
             "100, FedAvgM server lr 1 and momentum 0.9, FedAdam eta 0.01, betas 0.9/0.99, tau 1e-3. With data that "
             "never changes EWC never consolidates, so it trains exactly like FedAvg (by design, see section 2). "
             "Runs on the lean in-process federation (same training and aggregation code, no chain or IPFS)."]
    for model, result in data["models"].items():
        central = result["centralized"]
        curves = {f"{r['partition']} {r['method']}": r["accuracy"] for r in result["runs"]}
        figure = figures / f"learning-{model}-{mode}.png"
        references = {f"centralized, after {len(central)} epochs": central[-1]} if central else {}
        accuracy_plot(figure, f"{model.upper()}: test accuracy per round ({mode} run)", curves, references=references)
        rows = [[r["partition"], r["method"], percent(r["accuracy"][-1]), percent(max(r["accuracy"])),
                 *(rounds_to(r["accuracy"], t) or f"> {len(r['accuracy'])}" for t in TARGETS),
                 f"{seconds(r['wall_seconds'])} (load {r['load']})"] for r in result["runs"]]
        parts.append(f"#### {model.upper()}\n\n![{model} learning curves](bench/{figure.name})\n\n" + table(
            ["partition", "method", "final accuracy", "best accuracy", "rounds to 95%", "rounds to 97%",
             "run time"], rows))
        if central:
            parts.append(f"Centralized reference ({len(central)} epochs of SGD on all 5,000 images, same B and lr): "
                         f"final {percent(central[-1])}, best {percent(max(central))}.")
        if (found := iid_gap(result)) is not None:
            accuracy, gap = found
            parts.append(f"FedAvg IID after {len(accuracy)} rounds ends {gap:.2f} pp below centralized training's "
                         f"final accuracy; target <= {GAP_TARGET_PP} pp: {gap_verdict(gap)}.")
        if model == "2nn" and (shards := best_on_shards(result)) is not None:
            parts.append(f"2NN on shards: {shards_verdict(shards)}.")
        parts.append("Runs produced by: " + "; ".join(f"`{c}`" for c in sorted({r["command"] for r in result["runs"]})))
    if data.get("missing"):
        parts.append("Not finished in time on the shared machine (MODEL:PARTITION:METHOD): "
                     + ", ".join(data["missing"]) + ".")
    return "\n\n".join(parts)


def headline(data: dict[str, Any]) -> list[list[str]]:
    rows = []
    for model, result in data["models"].items():
        if (found := iid_gap(result)) is not None:
            accuracy, gap = found
            rounds = len(accuracy)
            rows.append([f"{model.upper()} FedAvg IID after {rounds} rounds vs centralized",
                         f"{percent(accuracy[-1])} vs {percent(result['centralized'][-1])} ({gap:+.2f} pp below)",
                         f"<= {GAP_TARGET_PP} pp: {gap_verdict(gap)}"])
            rows.append([f"{model.upper()} FedAvg IID rounds to 95% / 97%",
                         " / ".join(str(rounds_to(accuracy, t) or f"> {rounds}") for t in TARGETS), ""])
        if model == "2nn" and (shards := best_on_shards(result)) is not None:
            rows.append(["2NN on shards, best rule", shards_verdict(shards), ""])
    return rows
