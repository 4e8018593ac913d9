"""What the stand-alone FedAvg experiments (the framework-free loop, Flower's side) share: the same
options as `run.py demo`'s for the same experiment, and the same data and partition."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from mlprocessor.data import Dataset
from mlprocessor.partition import partition
from tasks.mnist import load_mnist


def experiment(description: str) -> tuple[argparse.Namespace, Dataset, Dataset, list[np.ndarray]]:
    """The parsed options, the training and test sets, and each client's training indices; one torch
    thread (the experiments are measured beside other work on a shared machine)."""
    args = parse_experiment_args(description)
    torch.set_num_threads(1)
    train, test = load_mnist("mnist-5k", args.test_data)
    return args, train, test, partition(train.y, args.clients, args.partition, seed=args.seed)


def parse_experiment_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", default="2nn")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--partition", default="iid")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-data", default=None)
    parser.add_argument("--json", type=Path, required=True)
    return parser.parse_args()
