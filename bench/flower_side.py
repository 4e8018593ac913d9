"""Flower's simulation of the same FedAvg experiment, run by bench/flower.py in .venv-flower.

    PYTHONPATH=. .venv-flower/bin/python bench/flower_side.py --model 2nn --rounds 10 --json out.json

Same data, partition, initial model (seed), E, B, lr and rounds as `run.py demo`; local training
and evaluation are the repository's own (mlprocessor), so only the federation machinery differs.
"""

from __future__ import annotations

import json
import os
import time

import torch
from flwr.client import Client, ClientApp, NumPyClient
from flwr.common import Context, NDArrays, Scalar, ndarrays_to_parameters
from flwr.server import ServerApp, ServerAppComponents, ServerConfig
from flwr.server.strategy import FedAvg
from flwr.simulation import run_simulation

from bench.experiment_args import experiment
from mlprocessor.evaluation import evaluate
from mlprocessor.models import initial_state, model_from_state
from mlprocessor.training import TrainConfig, train_local


def main() -> None:
    started = time.perf_counter()
    args, train, test, parts = experiment(__doc__.splitlines()[0])
    initial = initial_state(args.model, seed=args.seed)
    names = list(initial)
    accuracy: list[float] = []

    class TrainingClient(NumPyClient):
        def __init__(self, index: int) -> None:
            self.index = index

        def fit(self, parameters: NDArrays, config: dict[str, Scalar]) -> tuple[NDArrays, int, dict[str, Scalar]]:
            torch.set_num_threads(1)
            base = dict(zip(names, parameters, strict=True))
            seed = args.seed * 1000 + int(config["round"]) * 100 + self.index
            result = train_local(args.model, base, train.subset(parts[self.index]),
                                 TrainConfig(args.epochs, args.batch_size, args.lr, seed=seed))
            return [result.state[name] for name in names], result.stats.samples, {}

    def client_fn(context: Context) -> Client:
        return TrainingClient(int(context.node_config["partition-id"])).to_client()

    def evaluate_fn(server_round: int, parameters: NDArrays,
                    config: dict[str, Scalar]) -> tuple[float, dict[str, Scalar]]:
        metrics = evaluate(model_from_state(args.model, dict(zip(names, parameters, strict=True))), test)
        if server_round > 0:
            accuracy.append(metrics.accuracy)
        return metrics.loss, {"accuracy": metrics.accuracy}

    strategy = FedAvg(
        fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=args.clients, min_available_clients=args.clients,
        initial_parameters=ndarrays_to_parameters([initial[name] for name in names]),
        on_fit_config_fn=lambda server_round: {"round": server_round}, evaluate_fn=evaluate_fn,
    )

    def server_fn(context: Context) -> ServerAppComponents:
        return ServerAppComponents(strategy=strategy, config=ServerConfig(num_rounds=args.rounds))

    cores = os.cpu_count() or 1
    simulation_started = time.perf_counter()
    run_simulation(server_app=ServerApp(server_fn=server_fn), client_app=ClientApp(client_fn=client_fn),
                   num_supernodes=args.clients,
                   backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0},
                                   "init_args": {"num_cpus": cores, "include_dashboard": False}})
    finished = time.perf_counter()
    args.json.write_text(json.dumps({
        "accuracy": accuracy, "simulation_seconds": round(finished - simulation_started, 2),
        "total_seconds": round(finished - started, 2), "flower_clients_in_parallel": cores,
    }, indent=2))


if __name__ == "__main__":
    main()
