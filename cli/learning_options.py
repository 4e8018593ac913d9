"""Options that say how to learn, shared by `demo`, `organization` and `client`."""

from __future__ import annotations

import argparse

from mlprocessor.aggregation import STRATEGY_NAMES
from mlprocessor.ewc import DEFAULT_EWC_LAMBDA
from protocol.plan import StrategySpec, TrainingPlan


def add_plan_options(parser: argparse.ArgumentParser) -> None:
    """What the organization decides: model, aggregation rule and the clients' training plan."""
    parser.add_argument("--model", choices=("2nn", "cnn"), default="cnn")
    parser.add_argument("--strategy", choices=STRATEGY_NAMES, default="fedavg")
    parser.add_argument("--mu", type=float, default=0.01, help="FedProx proximal weight (with --strategy fedprox)")
    parser.add_argument("--beta", type=float, default=0.1, help="fraction trimmed at each end (trimmed-mean)")
    parser.add_argument("--byzantine", type=int, default=1, help="f, the number of faulty clients Krum tolerates")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--fedcurv-lambda", type=float, default=0.0, help="FedCurv strength (0: off)")
    parser.add_argument("--max-samples", type=int, default=10_000,
                        help="the most training examples one update may claim (caps its FedAvg weight)")


def add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default="mnist-5k",
                        help="mnist-5k | a directory: the four MNIST IDX files, or for a client its own data "
                             "(IDX training pair and/or .npz with x and y), watched for changes")
    parser.add_argument("--test-data", default=None, help="directory of the MNIST t10k IDX files to test on")
    parser.add_argument("--partition", choices=("iid", "shards", "dirichlet"), default="iid")
    parser.add_argument("--alpha", type=float, default=0.5, help="Dirichlet concentration (--partition dirichlet)")
    parser.add_argument("--seed", type=int, default=0)


def add_client_training_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ewc-lambda", type=float, default=None,
                        help=f"EWC strength on the clients (0: off; default {DEFAULT_EWC_LAMBDA:g} for a client and "
                             "a continual demo, 0 for a demo on fixed data)")


def plan_and_strategy(args: argparse.Namespace) -> tuple[TrainingPlan, StrategySpec]:
    params: dict[str, float] = {
        "fedprox": {"mu": args.mu},
        "trimmed-mean": {"beta": args.beta},
        "krum": {"f": args.byzantine},
        "multi-krum": {"f": args.byzantine},
    }.get(args.strategy, {})
    mu = args.mu if args.strategy == "fedprox" else 0.0
    plan = TrainingPlan(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, mu=mu,
                        fedcurv_lambda=args.fedcurv_lambda)
    return plan, StrategySpec(args.strategy, params)
