"""Section 2, forgetting: permuted MNIST, task A (plain images) for the first rounds, then task B
(one fixed pixel permutation) on the same clients; task-A and task-B test accuracy per round with
plain FedAvg, EWC on the clients and FedCurv."""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.federation import build_federation
from bench.plots import accuracy_plot
from bench.report import percent, table
from bench.settings import SuiteSettings
from client.service import ClientSettings
from mlprocessor.data import Dataset, load_data
from mlprocessor.evaluation import evaluate
from mlprocessor.models import model_from_state
from mlprocessor.partition import partition
from organization.service import OrganizationSettings
from protocol.plan import TrainingPlan

MODEL = "2nn"
PERMUTATION_SEED = 7


def permuted(data: Dataset, permutation: np.ndarray) -> Dataset:
    return Dataset(np.ascontiguousarray(data.x[:, permutation]), data.y)


def variants(settings: SuiteSettings) -> dict[str, tuple[ClientSettings, float]]:
    """Name -> (client settings, FedCurv lambda)."""
    return {
        "FedAvg": (ClientSettings(seed=settings.seed), 0.0),
        f"EWC (lambda {settings.forgetting_ewc_lambda:g})":
            (ClientSettings(ewc_lambda=settings.forgetting_ewc_lambda, seed=settings.seed), 0.0),
        f"FedCurv (lambda {settings.forgetting_fedcurv_lambda:g})":
            (ClientSettings(seed=settings.seed), settings.forgetting_fedcurv_lambda),
    }


def run_variant(settings: SuiteSettings, client_settings: ClientSettings, fedcurv_lambda: float,
                tasks: list[tuple[Dataset, Dataset]]) -> dict[str, list[float]]:
    """Rounds on task A then task B; test accuracy on both tasks after every round."""
    (train_a, test_a), (train_b, test_b) = tasks
    parts = partition(train_a.y, settings.clients, "iid", seed=settings.seed)
    plan = TrainingPlan(settings.epochs, settings.batch_size, settings.lr, fedcurv_lambda=fedcurv_lambda)
    organization = OrganizationSettings(model=MODEL, plan=plan, quorum=settings.clients, target=settings.clients,
                                        deadline_blocks=10_000, seed=settings.seed)
    workers = min(settings.clients, os.cpu_count() or 1)
    accuracy: dict[str, list[float]] = {"A": [], "B": []}
    with tempfile.TemporaryDirectory(prefix="bench-forgetting-") as tmp, ThreadPoolExecutor(workers) as pool:
        federation = build_federation(Path(tmp), organization, [train_a.subset(p) for p in parts], client_settings)
        for train in (train_a, train_b):
            for client, part in zip(federation.clients, parts, strict=True):
                client.data = train.subset(part)
            for _ in range(settings.forgetting_rounds_per_task):
                model = model_from_state(MODEL, federation.run_round(pool))
                accuracy["A"].append(evaluate(model, test_a).accuracy)
                accuracy["B"].append(evaluate(model, test_b).accuracy)
    return accuracy


def run(settings: SuiteSettings) -> dict[str, Any]:
    torch.set_num_threads(1)
    train, test = load_data("mnist-5k", settings.test_data)
    permutation = np.random.default_rng(PERMUTATION_SEED).permutation(train.x.shape[1])
    tasks = [(train, test), (permuted(train, permutation), permuted(test, permutation))]
    results = {name: run_variant(settings, client, fedcurv, tasks)
               for name, (client, fedcurv) in variants(settings).items()}
    return {"rounds_per_task": settings.forgetting_rounds_per_task, "variants": results,
            "plan": {"model": MODEL, "clients": settings.clients, "epochs": settings.epochs,
                     "batch_size": settings.batch_size, "lr": settings.lr}}


def headline(data: dict[str, Any]) -> list[list[str]]:
    names = list(data["variants"])
    values = data["variants"].values()
    return [[f"Permuted MNIST, task A / task B accuracy at the end ({', '.join(names)})",
             "; ".join(f"{percent(v['A'][-1])} / {percent(v['B'][-1])}" for v in values), ""]]


def render(data: dict[str, Any], figures: Path, mode: str) -> str:
    per_task = data["rounds_per_task"]
    curves = {f"{name}, task {task}": values[task] for name, values in data["variants"].items() for task in "AB"}
    figure = figures / f"forgetting-{mode}.png"
    accuracy_plot(figure, f"Permuted MNIST: task B from round {per_task + 1} ({mode} run)", curves)
    rows = [[name, percent(v["A"][per_task - 1]), percent(v["A"][-1]),
             f"{100 * (v['A'][-1] - v['A'][per_task - 1]):+.2f} pp", percent(v["B"][-1])]
            for name, v in data["variants"].items()]
    plan = data["plan"]
    return (f"2NN, {plan['clients']} clients (IID), E={plan['epochs']}, B={plan['batch_size']}, lr={plan['lr']}; "
            f"task A for rounds 1-{per_task}, task B for rounds {per_task + 1}-{2 * per_task}. EWC is online "
            "(the clients' Fisher memory decays by 0.9 per round); the lambdas are kept small enough that "
            "lr x lambda x max(Fisher) stays below 2: with lambda 100, EWC training diverged (NaN) on this "
            "setting.\n\n"
            f"![forgetting](bench/{figure.name})\n\n"
            + table(["method", f"task A after round {per_task}", "task A at the end", "change on A",
                     "task B at the end"], rows))
