"""Options that say how to learn, shared by `demo`, `organization` and `client`."""

from __future__ import annotations

import argparse

from mlprocessor.aggregation import STRATEGY_NAMES
from mlprocessor.ewc import DEFAULT_EWC_LAMBDA
from mlprocessor.partition import SCHEMES
from mlprocessor.task import Task
from mlprocessor.task_registry import DEFAULT_TASK, LEGACY_ARCHITECTURES, available_tasks, get_task
from protocol.plan import StrategySpec, TrainingPlan


def add_task_option(parser: argparse.ArgumentParser) -> None:
    """`--task NAME` (any installed task) and its MNIST shorthand `--model 2nn|cnn`."""
    parser.add_argument("--task", choices=available_tasks(), default=None,
                        help=f"what the federation trains (default {DEFAULT_TASK}; `run.py task list` describes each)")
    parser.add_argument("--model", choices=tuple(LEGACY_ARCHITECTURES), default=None,
                        help="shorthand for --task mnist-2nn | mnist-cnn")


def task_of(args: argparse.Namespace) -> Task:
    if args.task and args.model and LEGACY_ARCHITECTURES[args.model] != args.task:
        raise ValueError(f"--model {args.model} and --task {args.task} disagree: give one of them")
    return get_task(args.task or (LEGACY_ARCHITECTURES[args.model] if args.model else DEFAULT_TASK))


def add_plan_options(parser: argparse.ArgumentParser) -> None:
    """What the organization decides: task, aggregation rule and the clients' training plan."""
    add_task_option(parser)
    parser.add_argument("--strategy", choices=STRATEGY_NAMES, default="fedavg")
    parser.add_argument("--mu", type=float, default=0.01, help="FedProx proximal weight (with --strategy fedprox)")
    parser.add_argument("--beta", type=float, default=0.1, help="fraction trimmed at each end (trimmed-mean)")
    parser.add_argument("--byzantine", type=int, default=1, help="f, the number of faulty clients Krum tolerates")
    parser.add_argument("--epochs", type=int, default=None, help="local epochs (default: the task's)")
    parser.add_argument("--batch-size", type=int, default=None, help="local batch size (default: the task's)")
    parser.add_argument("--lr", type=float, default=None, help="local learning rate (default: the task's)")
    parser.add_argument("--momentum", type=float, default=None, help="local SGD momentum (default: the task's)")
    parser.add_argument("--fedcurv-lambda", type=float, default=0.0, help="FedCurv strength (0: off)")
    parser.add_argument("--max-samples", type=int, default=10_000,
                        help="the most training examples one update may claim (caps its FedAvg weight)")


def add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=None,
                        help="default: the task's bundled data set; else a path in the task's format (MNIST: "
                             "a directory of the four IDX files, or for a client its own data: IDX training pair "
                             "and/or .npz with x and y, watched for changes)")
    parser.add_argument("--test-data", default=None, help="the test set, in the task's format (MNIST: a "
                                                          "directory with the t10k IDX files)")
    parser.add_argument("--partition", choices=SCHEMES, default="iid",
                        help="labels: two labels per client (NIID-Bench #C=2)")
    parser.add_argument("--alpha", type=float, default=0.5, help="Dirichlet concentration (--partition dirichlet)")
    parser.add_argument("--seed", type=int, default=0)


def add_client_training_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ewc-lambda", type=float, default=None,
                        help=f"EWC strength on the clients (0: off; default {DEFAULT_EWC_LAMBDA:g} for a client and "
                             "a continual demo, 0 for a demo on fixed data)")


def plan_and_strategy(args: argparse.Namespace, task: Task) -> tuple[TrainingPlan, StrategySpec]:
    """The plan from the options, each unset one from the task's training defaults."""
    params: dict[str, float] = {
        "fedprox": {"mu": args.mu},
        "trimmed-mean": {"beta": args.beta},
        "krum": {"f": args.byzantine},
        "multi-krum": {"f": args.byzantine},
    }.get(args.strategy, {})
    defaults = task.training
    plan = TrainingPlan(epochs=_given(args.epochs, defaults.epochs), batch_size=_given(args.batch_size,
                        defaults.batch_size), lr=_given(args.lr, defaults.lr),
                        fedcurv_lambda=args.fedcurv_lambda, momentum=_given(args.momentum, defaults.momentum))
    return plan, StrategySpec(args.strategy, params)


def _given(value: float | None, default: float) -> float:
    return default if value is None else value
