"""Section 2, continual learning: permuted MNIST, N tasks x R rounds (task 0 the plain images,
task t a fixed pixel permutation seeded by t; every client switches at the same round). Test
accuracy on every task seen so far after each round, for FedAvg, FedProx, EWC at three lambdas
and FedCurv.

Runs use the lean in-process federation (bench/lean_federation.py: the services' training, EWC
memory and aggregation code without chain and IPFS), because 240 rounds of 10 clients through the
whole stack do not fit this shared 2-core machine; `run.py demo --continual-tasks N` runs the same scenario
through the protocol.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from bench.lean_federation import LeanFederation, Method
from bench.plots import panel_plot
from bench.report import percent, table
from bench.run_cache import cached_run
from bench.settings import SuiteSettings
from mlprocessor.aggregation import FedAvg
from mlprocessor.continual import PermutedScenario, TaskSchedule
from mlprocessor.models import model_from_state
from mlprocessor.partition import partition
from tasks.mnist import load_mnist

MODEL = "2nn"
RETENTION_TARGET_PP = 2.0  # first task at the end within this of its value at the end of task 0
MEAN_GAIN_TARGET_PP = 1.5  # mean over tasks at the end at least FedAvg + this


def variants(settings: SuiteSettings) -> dict[str, Method]:
    chosen = {
        "FedAvg": Method(),
        f"FedProx (mu {settings.fedprox_mu:g})": Method(FedAvg(client_mu=settings.fedprox_mu), mu=settings.fedprox_mu),
        **{f"EWC (lambda {lam:g})": Method(ewc_lambda=lam) for lam in settings.continual_ewc_lambdas},
        f"FedCurv (lambda {settings.fedcurv_lambda:g})": Method(fedcurv_lambda=settings.fedcurv_lambda),
    }
    return {name: method for name, method in chosen.items()
            if not settings.continual_variants or name in settings.continual_variants}


def run_variant(settings: SuiteSettings, schedule: TaskSchedule, method: Method) -> dict[str, Any]:
    """Every round's task and accuracy on each task seen so far."""
    torch.set_num_threads(1)
    train, test = load_mnist("mnist-5k", settings.test_data)
    parts = partition(train.y, settings.clients, "iid", seed=settings.seed)
    federation = LeanFederation(MODEL, [train.subset(p) for p in parts], method, settings.epochs,
                                settings.batch_size, settings.lr, settings.seed, settings.fisher_samples)
    scenario = PermutedScenario(schedule, train, test, parts)
    rounds = []
    for number in range(1, schedule.rounds + 1):
        if (data := scenario.new_data(number)) is not None:
            federation.switch_data(data)
        model = model_from_state(MODEL, federation.run_round())
        rounds.append({"round": number, **scenario.report(number, model)})
    return {"rounds": rounds}


def run(settings: SuiteSettings) -> dict[str, Any]:
    scenarios = []
    for tasks, per_task in settings.continual_scenarios:
        schedule = TaskSchedule(tasks, per_task)
        results = {}
        for name, method in variants(settings).items():
            key = {"model": MODEL, "tasks": tasks, "rounds_per_task": per_task, "variant": name,
                   "clients": settings.clients, "epochs": settings.epochs, "batch_size": settings.batch_size,
                   "lr": settings.lr, "seed": settings.seed, "fisher_samples": settings.fisher_samples,
                   "test_data": bool(settings.test_data)}
            record = cached_run(f"continual-{tasks}x{per_task}", key,
                                lambda m=method, s=schedule: run_variant(settings, s, m),
                                settings.compute_missing)
            if record is not None:  # None: another process is still computing it, or --cached-only
                results[name] = record
        scenarios.append({"tasks": tasks, "rounds_per_task": per_task, "variants": results,
                          "missing": [name for name in variants(settings) if name not in results]})
    return {"scenarios": scenarios, "default_ewc_lambda": settings.ewc_lambda,
            "plan": {"model": MODEL, "clients": settings.clients, "epochs": settings.epochs,
                     "batch_size": settings.batch_size, "lr": settings.lr, "fisher_samples": settings.fisher_samples}}


def summary(rounds: list[dict[str, Any]], per_task: int) -> dict[str, float]:
    """First-task accuracy at the end of task 0 and at the end, and the mean over tasks at the end."""
    final = rounds[-1]["task_accuracies"]
    return {"first_after_task0": rounds[per_task - 1]["task_accuracies"][0], "first_final": final[0],
            "mean_final": sum(final) / len(final), "last_final": final[-1]}


def verdicts(scenario: dict[str, Any], default_lambda: float) -> tuple[str, str] | None:
    """Met/missed for the default EWC against the two targets, or None when it did not run."""
    per_task = scenario["rounds_per_task"]
    runs = scenario["variants"]
    ewc = runs.get(f"EWC (lambda {default_lambda:g})")
    if ewc is None or "FedAvg" not in runs:
        return None
    mine, fedavg = summary(ewc["data"]["rounds"], per_task), summary(runs["FedAvg"]["data"]["rounds"], per_task)
    drop = 100 * (mine["first_after_task0"] - mine["first_final"])
    gain = 100 * (mine["mean_final"] - fedavg["mean_final"])
    return (f"first task {percent(mine['first_after_task0'])} -> {percent(mine['first_final'])} ({drop:.2f} pp lost); "
            f"target <= {RETENTION_TARGET_PP:g} pp: {'met' if drop <= RETENTION_TARGET_PP else '**missed**'}",
            f"mean over tasks {percent(mine['mean_final'])} vs FedAvg {percent(fedavg['mean_final'])} "
            f"({gain:+.2f} pp); target >= +{MEAN_GAIN_TARGET_PP:g} pp: "
            f"{'met' if gain >= MEAN_GAIN_TARGET_PP else '**missed**'}")


def headline(data: dict[str, Any]) -> list[list[str]]:
    rows = []
    for scenario in data["scenarios"]:
        found = verdicts(scenario, data["default_ewc_lambda"])
        if found is not None:
            label = (f"Permuted MNIST {scenario['tasks']}x{scenario['rounds_per_task']}, "
                     f"EWC lambda {data['default_ewc_lambda']:g}")
            rows += [[f"{label}: first-task retention", found[0], ""], [f"{label}: mean over tasks", found[1], ""]]
    return rows


def render(data: dict[str, Any], figures: Path, mode: str) -> str:
    plan = data["plan"]
    parts = [f"{plan['model'].upper()}, {plan['clients']} clients (IID), E={plan['epochs']}, B={plan['batch_size']}, "
             f"lr={plan['lr']}; Fisher on {plan['fisher_samples']} samples per client. EWC consolidates at each task "
             "switch (Fisher of the last round on the old task, anchor = the global model at the switch); the "
             "penalty is applied as an exact proximal step, stable for any lambda. Run on the lean in-process "
             "federation (same training and aggregation code, no chain or IPFS)."]
    for scenario in data["scenarios"]:
        tasks, per_task = scenario["tasks"], scenario["rounds_per_task"]
        runs = scenario["variants"]
        if not runs:
            parts.append(f"#### {tasks} tasks x {per_task} rounds\n\nNo run finished yet.")
            continue
        figure = figures / f"continual-{tasks}x{per_task}-{mode}.png"
        panel_plot(figure, f"Permuted MNIST, {tasks} tasks x {per_task} rounds: accuracy per task ({mode} run)",
                   {name: _curves(run["data"]["rounds"], tasks) for name, run in runs.items()})
        rows = []
        for name, run in runs.items():
            s = summary(run["data"]["rounds"], per_task)
            rows.append([name, percent(s["first_after_task0"]), percent(s["first_final"]),
                         f"{100 * (s['first_final'] - s['first_after_task0']):+.2f} pp", percent(s["last_final"]),
                         percent(s["mean_final"]), f"{run['seconds']:.0f} s, load {run['load_before']['one_minute']}"])
        parts.append(f"#### {tasks} tasks x {per_task} rounds\n\n"
                     f"![continual {tasks}x{per_task}](bench/{figure.name})\n\n"
                     + table(["method", f"task 0 after round {per_task}", "task 0 at the end", "change on task 0",
                              "last task at the end", "mean over tasks at the end", "run time"], rows))
        if (found := verdicts(scenario, data["default_ewc_lambda"])) is not None:
            parts.append(f"Default EWC (lambda {data['default_ewc_lambda']:g}): {found[0]}; {found[1]}.")
        commands = sorted({run["command"] for run in runs.values()})
        parts.append("Runs produced by: " + "; ".join(f"`{c}`" for c in commands))
        if scenario.get("missing"):
            parts.append("Not finished in time on the shared machine: " + ", ".join(scenario["missing"]) + ".")
    return "\n\n".join(parts)


def _curves(rounds: list[dict[str, Any]], tasks: int) -> dict[str, list[float | None]]:
    """Per task, its accuracy in every round (None before it was seen)."""
    return {f"task {t}": [r["task_accuracies"][t] if t < len(r["task_accuracies"]) else None for r in rounds]
            for t in range(tasks)}
