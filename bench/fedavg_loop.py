"""The framework-free baseline: sequential FedAvg in a page of plain torch, as its own process.

    PYTHONPATH=. .venv/bin/python bench/fedavg_loop.py --model 2nn --rounds 5 --json out.json

The same work as `run.py demo` with the same options: same data and partition, same initial
model, E local epochs of minibatch SGD with batch size B and learning rate lr for every client
in turn, a sample-weighted average, and an evaluation on the test set after every round. No
chain, no content store, no files, no processes: what federated averaging costs by itself.
"""

from __future__ import annotations

import json
import time

import torch
import torch.nn.functional as F

from bench.experiment_args import experiment
from mlprocessor.models import build_model


def main() -> None:
    started = time.perf_counter()
    args, train, test, parts = experiment(__doc__.splitlines()[0])
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
