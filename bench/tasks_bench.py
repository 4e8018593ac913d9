"""The built-in tasks beyond MNIST, federated against centralized training of the same model.

- tabular-shuttle: 10 clients, IID and Dirichlet(0.3), against centralized epochs on all the
  training rows (target: within 1 pp);
- shakespeare: one client per speaking role (the first ROLES roles, naturally non-IID and unequal),
  accuracy per round against centralized epochs on the same roles' examples; McMahan et al.'s
  full-scale figure (54% next-character accuracy, 715 roles, a 2x256 LSTM) is the reference.

Runs use the lean in-process federation (the services' training and aggregation code without
chain and IPFS) and are kept one file each in docs/bench/runs/; `python -m bench.tasks_bench`
resumes. The round cost of every task through the whole protocol is measured by `bench.task_rounds`.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch

from bench.lean_federation import LeanFederation, Method
from bench.run_cache import cached_run
from mlprocessor.data import Dataset
from mlprocessor.evaluation import evaluate
from mlprocessor.partition import partition
from mlprocessor.task_registry import get_task
from mlprocessor.training import TrainConfig, train_local

CLIENTS, SEED = 10, 0
TABULAR_ROUNDS, SHAKESPEARE_ROUNDS, ROLES = 10, 10, 10


def _curve(task_name: str, parts: list[Dataset], test: Dataset, rounds: int) -> list[float]:
    task = get_task(task_name)
    defaults = task.training
    federation = LeanFederation(task_name, parts, Method(), defaults.epochs, defaults.batch_size, defaults.lr, SEED,
                                momentum=defaults.momentum)
    accuracy = []
    for _ in range(rounds):
        accuracy.append(evaluate(task.model_from_state(federation.run_round()), test).accuracy)
        print(f"{task_name} federated round {len(accuracy)}: {accuracy[-1]:.4f}", flush=True)
    return accuracy


def _centralized(task_name: str, train: Dataset, test: Dataset, epochs: int) -> list[float]:
    task = get_task(task_name)
    defaults = task.training
    state, accuracy = task.initial_state(SEED), []
    for epoch in range(1, epochs + 1):
        config = TrainConfig(1, defaults.batch_size, defaults.lr, seed=epoch, momentum=defaults.momentum)
        state = train_local(task_name, state, train, config).state
        accuracy.append(evaluate(task.model_from_state(state), test).accuracy)
        print(f"{task_name} centralized epoch {epoch}: {accuracy[-1]:.4f}", flush=True)
    return accuracy


def tabular(scheme: str) -> dict[str, Any]:
    torch.set_num_threads(1)
    train, test = get_task("tabular-shuttle").load_data()
    if scheme == "centralized":
        return {"accuracy": _centralized("tabular-shuttle", train, test, TABULAR_ROUNDS)}
    parts = partition(train.y, CLIENTS, scheme, seed=SEED, alpha=0.3)
    return {"accuracy": _curve("tabular-shuttle", [train.subset(p) for p in parts], test, TABULAR_ROUNDS),
            "sizes": [len(p) for p in parts]}


def shakespeare(kind: str) -> dict[str, Any]:
    torch.set_num_threads(1)
    task = get_task("shakespeare")
    train, test = task.load_data()
    roles = task.natural_partition(train, ROLES)
    assert roles is not None
    if kind == "centralized":
        union = train.subset(np.sort(np.concatenate(roles)))
        return {"accuracy": _centralized("shakespeare", union, test, SHAKESPEARE_ROUNDS)}
    return {"accuracy": _curve("shakespeare", [train.subset(r) for r in roles], test, SHAKESPEARE_ROUNDS),
            "sizes": [len(r) for r in roles]}


RUNS = {
    ("tabular-shuttle", "centralized"): lambda: tabular("centralized"),
    ("tabular-shuttle", "iid"): lambda: tabular("iid"),
    ("tabular-shuttle", "dirichlet"): lambda: tabular("dirichlet"),
    ("shakespeare", "federated"): lambda: shakespeare("federated"),
    ("shakespeare", "centralized"): lambda: shakespeare("centralized"),
}


def run_key(task_name: str, kind: str) -> dict[str, Any]:
    defaults = get_task(task_name).training
    rounds = TABULAR_ROUNDS if task_name == "tabular-shuttle" else SHAKESPEARE_ROUNDS
    return {"task": task_name, "kind": kind, "rounds": rounds, "clients": ROLES if task_name == "shakespeare"
            else CLIENTS, "epochs": defaults.epochs, "batch_size": defaults.batch_size, "lr": defaults.lr,
            "momentum": defaults.momentum, "seed": SEED, "alpha": 0.3 if kind == "dirichlet" else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="TASK:KIND pairs (default: all)")
    args = parser.parse_args()
    chosen = [tuple(p.split(":")) for p in args.only] if args.only else list(RUNS)
    for task_name, kind in chosen:
        record = cached_run("tasks", run_key(task_name, kind), RUNS[(task_name, kind)])
        if record is not None:
            print(f"{task_name} {kind}: {record['data']['accuracy'][-1]:.2%} ({record['seconds']:.0f}s)", flush=True)


if __name__ == "__main__":
    main()
