"""Fashion-MNIST in NIID-Bench's configuration (Li et al. 2021, "Federated Learning on Non-IID Data
Silos: An Experimental Study"): 10 clients, 50 rounds, E=10, B=64, SGD lr 0.01 momentum 0.9, the
task's CNN (6 and 16 channels), partitions IID, Dirichlet(0.5) and two labels per client (#C=2).

The anchor is the issue's figure for NIID-Bench's FedAvg: 89.0% IID, 88.4% Dirichlet(0.5), 81.0% #C=2.
Flower's reproduction (baselines/niid_bench/README.md) reports FedAvg's best accuracy across the 50
rounds, mean and standard deviation over seeds (`FLOWER_FEDAVG`); its partitions use
`dataset_seed` 42, and ours at that seed hold exactly the same examples.

Runs use the lean in-process federation (the services' training and aggregation code without chain
and IPFS) and are kept one file each in docs/bench/runs/, so `python -m bench.niid_fashion` resumes
where an interrupted run stopped: a finished run is kept whole, and a run in progress leaves a
checkpoint after every round (`<run>.rounds.npz`: the global model, the server rule's state and the
accuracies; each client's training seed derives from the round, so a resumed run continues exactly).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.lean_federation import LeanFederation, Method
from bench.run_cache import cached_run, run_path
from mlprocessor.aggregation import FedAdam, FedAvg, FedAvgM
from mlprocessor.evaluation import evaluate
from mlprocessor.partition import partition
from mlprocessor.task_registry import TaskRef, get_task

TASK = "fashion-mnist"
CLIENTS, ROUNDS, EPOCHS, BATCH, LR, MOMENTUM, MU, SEED = 10, 50, 10, 64, 0.01, 0.9, 0.01, 0
DATASET_SEED = 42  # the partition seed of Flower's reproduction (`run_exp.py --seed 42`), so #C=2 draws the same labels
FIRST_SESSIONS_DATASET_SEED = 0  # the 20-round runs of the first sessions partitioned with the model's seed
PARTITIONS = {"iid": ("iid", None), "dirichlet-0.5": ("dirichlet", 0.5), "labels-2": ("labels", None)}
ANCHOR = {"iid": 0.890, "dirichlet-0.5": 0.884, "labels-2": 0.810}
FLOWER_FEDAVG = {"iid": "89.23 ± 0.45", "dirichlet-0.5": "88.09 ± 0.29", "labels-2": "78.10 ± 2.51"}
METHODS = {"fedavg": Method(), "fedprox": Method(FedAvg(client_mu=MU), mu=MU),
           "fedavgm": Method(FedAvgM()), "fedadam": Method(FedAdam())}
ORDER = [(p, m) for m in METHODS for p in ("iid", "labels-2", "dirichlet-0.5")]  # every rule on every partition


def run_key(partition_name: str, method: str, rounds: int, dataset_seed: int) -> dict[str, Any]:
    key = {"task": TASK, "partition": partition_name, "method": method, "rounds": rounds,
           "clients": CLIENTS, "epochs": EPOCHS, "batch_size": BATCH, "lr": LR, "momentum": MOMENTUM,
           "mu": MU if method == "fedprox" else None, "seed": SEED}
    return key if dataset_seed == SEED else {**key, "dataset_seed": dataset_seed}


def run_one(partition_name: str, method: str, rounds: int, dataset_seed: int) -> dict[str, Any]:
    torch.set_num_threads(1)
    task = get_task(TASK)
    train, test = task.load_data()
    scheme, alpha = PARTITIONS[partition_name]
    parts = partition(train.y, CLIENTS, scheme, seed=dataset_seed, alpha=alpha or 0.5)
    federation = LeanFederation(TASK, [train.subset(p) for p in parts], METHODS[method], EPOCHS, BATCH, LR, SEED,
                                momentum=MOMENTUM)
    checkpoint = run_path("niid-fashion", run_key(partition_name, method, rounds, dataset_seed)).with_suffix(
        ".rounds.npz")
    accuracy = resume_from(federation, checkpoint)
    resumed_at = len(accuracy)
    while len(accuracy) < rounds:
        accuracy.append(evaluate(task.model_from_state(federation.run_round()), test).accuracy)
        save_checkpoint(federation, accuracy, checkpoint)
        print(f"{partition_name} {method} round {len(accuracy)}: {accuracy[-1]:.4f}", flush=True)
    checkpoint.unlink(missing_ok=True)
    return {"accuracy": accuracy, "sizes": [len(p) for p in parts], "task": TaskRef.of(TASK).short(),
            **({"resumed_after_round": resumed_at} if resumed_at else {})}


def save_checkpoint(federation: LeanFederation, accuracy: list[float], checkpoint: Path) -> None:
    """The run after this round: global model, the server rule's state, accuracies so far (no EWC
    or FedCurv memory: NIID-Bench's rules keep none on the clients)."""
    arrays = {f"model/{name}": value for name, value in federation.state.items()}
    arrays.update({f"server/{slot}/{name}": value for slot, tensors in federation.server_state.items()
                   for name, value in tensors.items()})
    partial = checkpoint.with_suffix(".partial.npz")
    np.savez(partial, accuracy=np.array(accuracy), **arrays)
    partial.replace(checkpoint)


def resume_from(federation: LeanFederation, checkpoint: Path) -> list[float]:
    """The accuracies of the rounds a checkpoint holds, with the federation put back after them."""
    if not checkpoint.exists():
        return []
    with np.load(checkpoint, allow_pickle=False) as saved:
        arrays = {name: saved[name] for name in saved.files}
    accuracy = arrays.pop("accuracy").tolist()
    federation.state = {name[len("model/"):]: value for name, value in arrays.items() if name.startswith("model/")}
    federation.server_state = {}
    for name, value in arrays.items():
        if name.startswith("server/"):
            _, slot, tensor = name.split("/", 2)
            federation.server_state.setdefault(slot, {})[tensor] = value
    federation.round = len(accuracy)
    print(f"resuming after round {federation.round} from {checkpoint.name}", flush=True)
    return accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--only", nargs="*", default=None, help="PARTITION:METHOD pairs (default: all, in order)")
    parser.add_argument("--dataset-seed", type=int, default=DATASET_SEED, help="the partition's seed")
    args = parser.parse_args()
    pairs = [tuple(p.split(":")) for p in args.only] if args.only else ORDER
    for partition_name, method in pairs:
        record = cached_run("niid-fashion", run_key(partition_name, method, args.rounds, args.dataset_seed),
                            lambda p=partition_name, m=method: run_one(p, m, args.rounds, args.dataset_seed))
        if record is not None:
            final = record["data"]["accuracy"][-1]
            print(f"{partition_name} {method}: {final:.2%} after {args.rounds} rounds "
                  f"(anchor {ANCHOR[partition_name]:.1%}), {record['seconds']:.0f}s", flush=True)


if __name__ == "__main__":
    main()
