"""FedAvg benchmark (McMahan et al. 2017 setting, scaled to 5,000 images): CNN, 10 clients, E=5,
B=10, IID and pathological-shard partitions, against a centralized reference on the same data.

    PYTHONPATH=. .venv/bin/python bench/fedavg_bench.py --rounds 10 [--json out.json]

Clients train sequentially in this process; it is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from mlprocessor.aggregation import ClientUpdate, FedAvg
from mlprocessor.data import Dataset, load_data
from mlprocessor.evaluation import evaluate
from mlprocessor.models import initial_state, model_from_state
from mlprocessor.partition import partition
from mlprocessor.training import TrainConfig, train_local

MODEL = "cnn"
DEFAULT_TEST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def seconds_per_step(train: Dataset, threads: int, steps: int = 60) -> float:
    """Time a slice of local training at a given torch thread count."""
    torch.set_num_threads(threads)
    sample = train.subset(np.arange(steps * 10))
    result = train_local(MODEL, initial_state(MODEL), sample, TrainConfig(epochs=1, batch_size=10))
    return result.stats.seconds / result.stats.steps


def run_federated(train: Dataset, test: Dataset, scheme: str, args: argparse.Namespace) -> list[dict]:
    parts = partition(train.y, args.clients, scheme, seed=args.seed)
    strategy = FedAvg()
    state = initial_state(MODEL, seed=args.seed)
    rounds = []
    for r in range(1, args.rounds + 1):
        started = time.perf_counter()
        updates = []
        for k, indices in enumerate(parts):
            config = TrainConfig(args.epochs, args.batch_size, args.lr, seed=args.seed * 1000 + r * 100 + k)
            result = train_local(MODEL, state, train.subset(indices), config)
            updates.append(ClientUpdate(result.delta(state), result.stats.samples, str(k)))
        state = strategy.aggregate(state, updates)
        seconds = time.perf_counter() - started
        metrics = evaluate(model_from_state(MODEL, state), test)
        rounds.append({"round": r, "accuracy": metrics.accuracy, "loss": metrics.loss, "seconds": seconds})
        print(f"{scheme:7s} round {r:3d}  accuracy {metrics.accuracy:.4f}  loss {metrics.loss:.4f}  "
              f"{seconds:6.1f} s", flush=True)
    return rounds


def run_centralized(train: Dataset, test: Dataset, args: argparse.Namespace) -> list[dict]:
    state = initial_state(MODEL, seed=args.seed)
    epochs = []
    for epoch in range(1, args.central_epochs + 1):
        result = train_local(MODEL, state, train, TrainConfig(1, args.batch_size, args.lr, seed=epoch))
        state = result.state
        metrics = evaluate(model_from_state(MODEL, state), test)
        epochs.append({"epoch": epoch, "accuracy": metrics.accuracy, "seconds": result.stats.seconds})
        print(f"central epoch {epoch:3d}  accuracy {metrics.accuracy:.4f}  {result.stats.seconds:6.1f} s",
              flush=True)
    return epochs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--central-epochs", type=int, default=20)
    parser.add_argument("--partitions", nargs="+", default=["iid", "shards"])
    parser.add_argument("--threads", type=int, default=0, help="torch threads; 0 = the faster of 1 and 2")
    parser.add_argument("--test-data", type=Path, default=DEFAULT_TEST_DIR)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    train, test = load_data("mnist-5k", test_dir=args.test_data)
    print(f"train {len(train)} images, test {len(test)} images ({args.test_data})")
    seconds_per_step(train, 1, steps=10)  # warm-up, so the first timing is not penalised
    timings = {n: seconds_per_step(train, n) for n in (1, 2)}
    per_thread = ", ".join(f"{n} thread(s) {s * 1000:.1f} ms" for n, s in timings.items())
    print(f"time per CNN step (B=10): {per_thread}")
    threads = args.threads or min(timings, key=timings.__getitem__)
    torch.set_num_threads(threads)
    print(f"using {threads} torch thread(s)")

    summary: dict = {"threads": threads, "seconds_per_step": timings, "config": {
        k: v for k, v in vars(args).items() if k not in ("json", "test_data")}}
    summary["federated"] = {scheme: run_federated(train, test, scheme, args) for scheme in args.partitions}
    if args.central_epochs:
        summary["centralized"] = run_centralized(train, test, args)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
