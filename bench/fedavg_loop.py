"""The framework-free baseline: sequential FedAvg in a page of plain torch, as its own process.

    PYTHONPATH=. .venv/bin/python bench/fedavg_loop.py --model 2nn --rounds 5 --json out.json

The same work as `run.py demo` with the same options: same data and partition, same initial
model, E local epochs of minibatch SGD with batch size B and learning rate lr for every client
in turn, a sample-weighted average, and an evaluation on the test set after every round. No
chain, no content store, no files, no processes: what federated averaging costs by itself.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from mlprocessor.data import load_data
from mlprocessor.models import build_model
from mlprocessor.partition import partition


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="2nn")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--partition", default="iid")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-data", default=None)
    parser.add_argument("--json", type=Path, required=True)
    return parser.parse_args()


def main() -> None:
    started = time.perf_counter()
    args = parse_args()
    torch.set_num_threads(1)
    train, test = load_data("mnist-5k", args.test_data)
    parts = partition(train.y, args.clients, args.partition, seed=args.seed)
    x, y = (torch.from_numpy(a) for a in (train.x, train.y))
    test_x, test_y = (torch.from_numpy(a) for a in (test.x, test.y))
    model = build_model(args.model, seed=args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    accuracy = []
    for _ in range(args.rounds):
        base = {k: v.clone() for k, v in model.state_dict().items()}
        total = {k: torch.zeros_like(v) for k, v in base.items()}
        for indices in parts:
            model.load_state_dict(base)
            optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
            client_x, client_y = x[indices], y[indices]
            for _ in range(args.epochs):
                for batch in torch.randperm(len(indices), generator=generator).split(args.batch_size):
                    optimizer.zero_grad()
                    F.cross_entropy(model(client_x[batch]), client_y[batch]).backward()
                    optimizer.step()
            for k, v in model.state_dict().items():
                total[k] += len(indices) * v
        model.load_state_dict({k: v / len(train) for k, v in total.items()})
        with torch.no_grad():
            accuracy.append((model(test_x).argmax(1) == test_y).float().mean().item())
    args.json.write_text(json.dumps({"accuracy": accuracy, "total_seconds": round(time.perf_counter() - started, 2)}))


if __name__ == "__main__":
    main()
