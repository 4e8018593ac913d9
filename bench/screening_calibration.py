"""Screening calibration (issue 17): how large honest updates get, for every built-in task, so that
each task's ScreeningDefaults leave a margin and reject no honest update.

For each task and scenario (clients holding 50 examples, or 20,000 or as many as the task has;
IID, Dirichlet(0.3), and a round mixing both sizes), honest clients train with the task's
training defaults for a few FedAvg rounds from the task's initial model. Each update's norm is
recorded against the three references screening uses (mlprocessor.validation): the base model's
norm, this round's median, the previous round's accepted median; and the round is screened with
the task's defaults by the real screening code, counting rejections (the target is zero). Each
update's cosine with the base's descent direction on a root set (`run.py organization --root-data`:
ROOT_EXAMPLES examples drawn from the task's test set) is recorded too, against the root screen's
threshold (the task's `min_root_cosine`), for small clients (at most SMALL_ROOT_LIMIT examples)
and larger ones apart: with a few dozen examples of one or two labels, an honest update may point
against the root direction, which the screen cannot tell from an attack. Every update is
aggregated, rejected or not, so the trajectory is the honest one whatever the bounds.

Training here is a minimal local SGD loop on the task's own optimiser and loss (no proximal term):
the honest baseline the bounds must admit.

    heavy .venv/bin/python -m bench.screening_calibration [--tasks NAME ...] [--json PATH]
    .venv/bin/python -m bench.screening_calibration --rescreen   # after changing a task's defaults
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from bench.report import table
from mlprocessor.aggregation.base import ClientUpdate
from mlprocessor.aggregation.fedavg import FedAvg
from mlprocessor.data import Dataset
from mlprocessor.partition import partition
from mlprocessor.root_direction import root_direction
from mlprocessor.specs import StateDict
from mlprocessor.task import ScreeningDefaults, Task, TrainingDefaults, state_to_numpy
from mlprocessor.task_registry import BUILTIN, get_task
from mlprocessor.validation import (
    ValidationConfig,
    base_norm_bound,
    history_norm_bound,
    l2_norm,
    root_cosine,
    validate_updates,
)

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "docs" / "bench" / "screening-calibration.json"
SMALL, LARGE = 50, 20_000
SMALL_CLIENTS, LARGE_CLIENTS = 5, 3
DIRICHLET_ALPHA = 0.3
ROUNDS = 3  # round 0 trains from the initial model, rounds 1 and 2 from aggregated ones
MARGIN = 1.5  # suggested bound = MARGIN x the largest honest ratio, rounded up
ROOT_EXAMPLES = 100  # FLTrust's root size; drawn from the test set, as an organization's own examples
SMALL_ROOT_LIMIT = 200  # clients of at most this many examples are "small" in the root screen's columns


@dataclass(frozen=True)
class Scenario:
    """Clients' example counts (before a Dirichlet split redistributes them) and how labels are dealt."""

    name: str
    sizes: tuple[int, ...]
    scheme: str  # "iid" or "dirichlet"
    epochs: int


def scenarios(task: Task, train_size: int) -> list[Scenario]:
    large = min(LARGE, train_size // LARGE_CLIENTS)
    epochs = task.training.epochs
    found = [Scenario(f"{size}x{clients} {scheme}", (size,) * clients, scheme, epochs)
             for size, clients in ((SMALL, SMALL_CLIENTS), (large, LARGE_CLIENTS))
             for scheme in ("iid", "dirichlet")]
    found.append(Scenario(f"mixed 50/{large // 10}/{large} iid", (SMALL, large // 10, large), "iid", epochs))
    return found


def client_indices(labels: np.ndarray, scenario: Scenario, seed: int) -> list[np.ndarray]:
    """Disjoint index sets: a random pool of sum(sizes) examples dealt IID in the given sizes, or
    split by Dirichlet(0.3) over labels (sizes then differ from client to client)."""
    rng = np.random.default_rng(seed)
    pool = rng.permutation(len(labels))[:sum(scenario.sizes)]
    if scenario.scheme == "iid":
        return [np.sort(part) for part in np.split(pool, np.cumsum(scenario.sizes)[:-1])]
    parts = partition(labels[pool], len(scenario.sizes), "dirichlet", seed=seed, alpha=DIRICHLET_ALPHA)
    return [np.sort(pool[part]) for part in parts]


def local_update(task: Task, base: StateDict, data: Dataset, training: TrainingDefaults, seed: int) -> StateDict:
    """theta_k - theta_base after plain local SGD with the task's optimiser and loss."""
    model = task.model_from_state(base)
    optimizer = task.optimizer(model.parameters(), training.lr, training.momentum)
    x, y = data.tensors()
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(training.epochs):
        order = torch.randperm(len(data), generator=generator)
        for start in range(0, len(data), training.batch_size):
            batch = order[start:start + training.batch_size]
            optimizer.zero_grad()
            task.loss(model(x[batch]), y[batch]).backward()
            optimizer.step()
    trained = state_to_numpy(model)
    return {k: trained[k] - base[k] for k in base}


def rejections(record: dict, screening: ScreeningDefaults) -> list[str]:
    """What `screening` rejects in one recorded round, by the real screening code: the norm rules
    see only norms, so each update stands in as a one-element tensor of the same norm."""
    config = ValidationConfig(norm_factor=screening.round_norm_factor, base_norm_fraction=screening.base_norm_fraction,
                              history_norm_factor=screening.history_norm_factor)
    stand_ins = [ClientUpdate({"norm": np.array([norm], np.float32)}, size)
                 for norm, size in zip(record["norms"], record["sizes"], strict=True)]
    report = validate_updates(stand_ins, {"norm": ((1,), "float32")}, config,
                              bound=base_norm_bound(record["base_norm"], config),
                              history=history_norm_bound(record["previous_median"], config))
    return [r.reason for r in report.rejected]


def run_scenario(task: Task, train: Dataset, root: Dataset, scenario: Scenario, seed: int = 0) -> dict[str, object]:
    """Per round: each honest update's norm, its ratios to the three references and its cosine with
    the descent direction on `root`. Every update is aggregated, so the trajectory is the honest one
    whatever the bounds."""
    training = TrainingDefaults(scenario.epochs, task.training.batch_size, task.training.lr, task.training.momentum)
    clients = [train.subset(i) for i in client_indices(train.y, scenario, seed)]
    base = task.initial_state(seed)
    previous_median: float | None = None
    rounds = []
    for round_number in range(ROUNDS):
        updates = [ClientUpdate(local_update(task, base, data, training, seed=1000 * round_number + k), len(data))
                   for k, data in enumerate(clients)]
        norms = [float(np.float32(l2_norm(u.delta))) for u in updates]
        direction = root_direction(task, base, root)
        cosines = [root_cosine(u.delta, direction) for u in updates]
        base_norm, median = l2_norm(base), float(np.median(norms))
        rounds.append({
            "round": round_number, "sizes": [len(d) for d in clients], "base_norm": base_norm,
            "norms": norms, "median": median, "previous_median": previous_median, "root_cosines": cosines,
            "ratio_base": max(norms) / base_norm,
            "ratio_round_median": max(norms) / median,
            "ratio_previous_median": None if previous_median is None else max(norms) / previous_median,
        })
        base, previous_median = FedAvg().aggregate(base, updates), median
    return {**asdict(scenario), "rounds": rounds}


def round_up(value: float) -> float:
    """`value` rounded up to two significant digits (0.4312 -> 0.44, 3.07 -> 3.1)."""
    if value <= 0:
        return 0.0
    scale = 10 ** (math.floor(math.log10(value)) - 1)
    return round(math.ceil(value / scale - 1e-9) * scale, 10)


def summarise(task: Task, results: Sequence[dict[str, object]]) -> dict[str, object]:
    """The largest ratio to each reference, the bounds MARGIN x those would give, the task's
    defaults and how many honest updates they rejected; for small and larger clients apart, the
    smallest cosine with the root direction and how many updates the root screen's threshold
    rejected (None: recorded before the root screen, or the screen is off for the task)."""
    rounds = [r for result in results for r in result["rounds"]]  # type: ignore[attr-defined]
    root = {"small": [], "large": []}
    for r in rounds:
        for size, cosine in zip(r["sizes"], r.get("root_cosines", []), strict=False):
            root["small" if size <= SMALL_ROOT_LIMIT else "large"].append(cosine)
    threshold = task.screening.min_root_cosine
    maxima = {key: max((r[key] for r in rounds if r[key] is not None), default=0.0)
              for key in ("ratio_base", "ratio_round_median", "ratio_previous_median")}
    return {
        "max_ratio": maxima,
        "suggested": {"base_norm_fraction": round_up(MARGIN * maxima["ratio_base"]),
                      "round_norm_factor": round_up(MARGIN * maxima["ratio_round_median"]),
                      "history_norm_factor": round_up(MARGIN * maxima["ratio_previous_median"])},
        "defaults": asdict(task.screening),
        "training": asdict(task.training),
        "updates": sum(len(r["norms"]) for r in rounds),
        "honest_rejections": sum(len(rejections(r, task.screening)) for r in rounds),
        "root_threshold": threshold,
        **{f"min_root_cosine_{kind}": min(found) if found else None for kind, found in root.items()},
        **{f"root_rejections_{kind}": (sum(c < threshold for c in found) if found and threshold is not None else None)
           for kind, found in root.items()},
        **{f"root_updates_{kind}": len(found) for kind, found in root.items()},
    }


def root_examples(test: Dataset) -> Dataset:
    """ROOT_EXAMPLES examples of the test set, drawn at random: an organization's own few clean examples."""
    return test.subset(np.sort(np.random.default_rng(0).permutation(len(test))[:ROOT_EXAMPLES]))


def calibrate_task(name: str, extra_epochs: Sequence[int] = ()) -> dict[str, object]:
    """Every scenario for one task (and again at each of `extra_epochs`, e.g. NIID-Bench's E=10)."""
    task = get_task(name)
    train, test = task.load_data()
    root = root_examples(test)
    found = scenarios(task, len(train))
    found += [Scenario(f"{s.name} E={e}", s.sizes, s.scheme, e) for e in extra_epochs for s in found[:4]]
    started = time.perf_counter()
    results = [run_scenario(task, train, root, scenario) for scenario in found]
    return {"seconds": round(time.perf_counter() - started, 1), "scenarios": results}


EXTRA_EPOCHS = {"fashion-mnist": (10,)}  # the benchmark trains it in NIID-Bench's configuration (E=10)


def calibrate(names: Sequence[str]) -> dict[str, object]:
    return {
        "settings": {"small": SMALL, "large": LARGE, "small_clients": SMALL_CLIENTS, "large_clients": LARGE_CLIENTS,
                     "dirichlet_alpha": DIRICHLET_ALPHA, "rounds": ROUNDS, "margin": MARGIN,
                     "root_examples": ROOT_EXAMPLES},
        "tasks": {name: calibrate_task(name, EXTRA_EPOCHS.get(name, ())) for name in names},
    }


def with_summaries(result: dict) -> dict:
    """`result` with each task's summary against the task's current defaults (cheap: no training)."""
    tasks = {name: {**summarise(get_task(name), run["scenarios"]), "seconds": run["seconds"],
                    "scenarios": run["scenarios"]} for name, run in result["tasks"].items()}
    return {**result, "tasks": tasks}


def markdown(result: dict) -> str:
    """The calibration table: per task, the largest honest ratios, the defaults and the rejections."""
    rows = []
    for name, summary in result["tasks"].items():
        maxima, defaults = summary["max_ratio"], summary["defaults"]
        rows.append([name, summary["updates"],
                     f"{maxima['ratio_base']:.3f}", defaults["base_norm_fraction"],
                     f"{maxima['ratio_round_median']:.2f}", defaults["round_norm_factor"],
                     f"{maxima['ratio_previous_median']:.2f}", defaults["history_norm_factor"],
                     summary["honest_rejections"],
                     "off" if summary["root_threshold"] is None else summary["root_threshold"],
                     *(_root_cell(summary, kind) for kind in ("large", "small"))])
    return table(["task", "honest updates", "max norm / base norm", "base_norm_fraction",
                  "max norm / round median", "round_norm_factor", "max norm / previous median",
                  "history_norm_factor", "honest rejections", "root screen: min_root_cosine",
                  f"clients of over {SMALL_ROOT_LIMIT} examples: min cosine / rejections",
                  f"clients of {SMALL_ROOT_LIMIT} or fewer: min cosine / rejections"], rows) + "\n"


def _root_cell(summary: dict, kind: str) -> str:
    """'smallest cosine / rejections of updates' for the small or the larger clients."""
    return (f"{_or_not_recorded(summary[f'min_root_cosine_{kind}'], '{:.3f}')} / "
            f"{_or_not_recorded(summary[f'root_rejections_{kind}'], '{}')} of {summary[f'root_updates_{kind}']}")


def _or_not_recorded(value: float | None, form: str) -> str:
    return "-" if value is None else form.format(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(BUILTIN), choices=list(BUILTIN))
    parser.add_argument("--json", type=Path, default=OUTPUT)
    parser.add_argument("--rescreen", action="store_true",
                        help="only screen the norms recorded in --json again, with the tasks' current defaults")
    args = parser.parse_args()
    torch.set_num_threads(1)
    result = with_summaries(json.loads(args.json.read_text()) if args.rescreen else calibrate(args.tasks))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    args.json.with_suffix(".md").write_text(markdown(result))
    for name, summary in result["tasks"].items():  # type: ignore[union-attr]
        print(f"{name}: max ratios {json.dumps(summary['max_ratio'])}; suggested {json.dumps(summary['suggested'])}; "
              f"honest rejections with the defaults: {summary['honest_rejections']} of {summary['updates']}; "
              f"root screen (min_root_cosine {summary['root_threshold']}): smallest cosine and rejections, "
              f"larger clients {summary['min_root_cosine_large']} {summary['root_rejections_large']}, small "
              f"{summary['min_root_cosine_small']} {summary['root_rejections_small']} ({summary['seconds']} s)")


if __name__ == "__main__":
    main()
