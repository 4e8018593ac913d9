"""Section 11, tasks: Fashion-MNIST in NIID-Bench's configuration, the tabular task and Shakespeare
against centralized training, the screening calibration of every built-in task, and each task's
round cost through the whole protocol on the default backends.

The long runs come from `python -m bench.niid_fashion` and `python -m bench.tasks_bench` (kept one
file each in docs/bench/runs/); this section computes what is missing unless `--cached-only`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import niid_fashion, tasks_bench
from bench.demo_runs import command_line, run_demo
from bench.overhead import coordination_share, later
from bench.report import table
from bench.run_cache import cached_run
from bench.settings import REPO, SuiteSettings
from mlprocessor.task_registry import BUILTIN
from protocol.timing import PHASES

CALIBRATION = REPO / "docs" / "bench" / "screening-calibration.json"
TABULAR_GAP_PP = 1.0


def _cached(label: str, key: dict[str, Any], compute: Any, settings: SuiteSettings) -> dict[str, Any] | None:
    """A long run from docs/bench/runs/; a quick suite only reads them (they take hours here)."""
    return cached_run(label, key, compute, compute_missing=settings.compute_missing and settings.mode != "quick")


def run(settings: SuiteSettings) -> dict[str, Any]:
    rounds, short_seed = settings.niid_rounds, niid_fashion.FIRST_SESSIONS_DATASET_SEED
    niid = {f"{p}:{m}": record["data"]["accuracy"] for p, m in niid_fashion.ORDER
            if (record := _cached("niid-fashion", niid_fashion.run_key(p, m, rounds, short_seed),
                                  lambda p=p, m=m: niid_fashion.run_one(p, m, rounds, short_seed), settings))}
    others = {f"{t}:{k}": record["data"]["accuracy"] for (t, k), compute in tasks_bench.RUNS.items()
              if (record := _cached("tasks", tasks_bench.run_key(t, k), compute, settings))}
    costs = []
    for task in settings.cost_tasks or sorted(BUILTIN):
        args = ["--task", task, "--clients", "3", "--rounds", str(settings.task_cost_rounds)]
        summary = run_demo(args)
        costs.append({"task": task, "command": command_line(args), "chain": summary["chain"],
                      "rounds": [{"seconds": r["seconds"], "wall_seconds": r["wall_seconds"],
                                  "accuracy": r["accuracy"]} for r in summary["rounds"]]})
    calibration = json.loads(CALIBRATION.read_text()) if CALIBRATION.exists() else None
    return {"niid_rounds": rounds, "niid": niid, "others": others, "costs": costs, "calibration": calibration,
            **niid_full_runs()}


def niid_full_runs() -> dict[str, Any]:
    """The NIID-Bench runs at its own 50 rounds finished in docs/bench/runs (about 1.5 h each here:
    started by hand, `python -m bench.niid_fashion --rounds 50 --only PARTITION:RULE`, never by the suite)."""
    full, seed = niid_fashion.ROUNDS, niid_fashion.DATASET_SEED
    runs = {f"{p}:{m}": record for p, m in niid_fashion.ORDER
            if (record := cached_run("niid-fashion", niid_fashion.run_key(p, m, full, seed), dict,
                                     compute_missing=False))}
    return {"niid_full_rounds": full,
            "niid_full": {key: {"accuracy": r["data"]["accuracy"], "seconds": r["seconds"],
                                "load": r["load_before"]["one_minute"],
                                "resumed_after_round": r["data"].get("resumed_after_round", 0)}
                          for key, r in runs.items()}}


def _verdict(value: float, target: float) -> str:
    return "met" if value >= target else "**missed**"


def _niid_verdicts(data: dict[str, Any]) -> dict[str, tuple[str, float, str]]:
    """Per partition: the best rule measured, its final accuracy and met/missed against the anchor."""
    verdicts = {}
    for partition, anchor in niid_fashion.ANCHOR.items():
        finals = {key.split(":")[1]: curve[-1] for key, curve in data["niid"].items()
                  if key.startswith(partition + ":")}
        if finals:
            best = max(finals, key=finals.__getitem__)
            verdicts[partition] = (best, finals[best], _verdict(finals[best], anchor))
    return verdicts


def headline(data: dict[str, Any]) -> list[list[str]]:
    rows = [[f"Fashion-MNIST NIID-Bench, {partition}, best rule after {data['niid_rounds']} rounds",
             f"{rule} {100 * final:.2f}%", f">= {100 * niid_fashion.ANCHOR[partition]:.1f}% (NIID-Bench FedAvg, "
             f"50 rounds): {verdict}"] for partition, (rule, final, verdict) in _niid_verdicts(data).items()]
    for key, run in data.get("niid_full", {}).items():
        partition, rule = key.split(":")
        final, best, anchor = run["accuracy"][-1], max(run["accuracy"]), niid_fashion.ANCHOR[partition]
        rows.append([f"Fashion-MNIST NIID-Bench, {partition}, {rule}, {data['niid_full_rounds']} rounds, "
                     f"partition seed {niid_fashion.DATASET_SEED}: final / best of any round",
                     f"{100 * final:.2f}% / {100 * best:.2f}%",
                     f">= {100 * anchor:.1f}%: final {_verdict(final, anchor)}, best {_verdict(best, anchor)} "
                     f"(Flower's FedAvg, best of any round: {niid_fashion.FLOWER_FEDAVG[partition]}%)"])
    others = data["others"]
    central = others.get("tabular-shuttle:centralized")
    for scheme in ("iid", "dirichlet"):
        if central and (federated := others.get(f"tabular-shuttle:{scheme}")):
            gap = 100 * (central[-1] - federated[-1])
            rows.append([f"tabular-shuttle federated ({scheme}) vs centralized", f"{gap:+.2f} pp below",
                         f"within {TABULAR_GAP_PP:g} pp: " + ("met" if gap <= TABULAR_GAP_PP else "**missed**")])
    if (federated := others.get("shakespeare:federated")) and (central := others.get("shakespeare:centralized")):
        rows.append([f"shakespeare, {tasks_bench.ROLES} roles, {len(federated)} rounds: federated / centralized",
                     f"{100 * federated[-1]:.1f}% / {100 * central[-1]:.1f}%",
                     "reference: 54% (McMahan et al., 715 roles, 2x256 LSTM, thousands of rounds)"])
    return rows


def render(data: dict[str, Any], figures: Path, mode: str) -> str:
    parts = [_render_niid(data), _render_others(data), _render_costs(data)]
    if data.get("calibration"):
        parts.append(_render_calibration(data["calibration"]))
    return "\n\n".join(parts)


def _render_niid(data: dict[str, Any]) -> str:
    rounds = data["niid_rounds"]
    rules = list(niid_fashion.METHODS)
    rows = []
    for partition, anchor in niid_fashion.ANCHOR.items():
        cells = [f"{100 * c[-1]:.2f}%" if (c := data["niid"].get(f"{partition}:{rule}")) else "not run"
                 for rule in rules]
        rows.append([partition, *cells, f"{100 * anchor:.1f}%"])
    verdicts = "; ".join(f"{p}: best {rule} {100 * final:.2f}%, {verdict}"
                         for p, (rule, final, verdict) in _niid_verdicts(data).items())
    return (f"**Fashion-MNIST in NIID-Bench's configuration** (10 clients, E=10, B=64, SGD lr 0.01 momentum 0.9, "
            f"CNN 6/16 channels; FedProx mu 0.01), test accuracy after **{rounds} rounds** (NIID-Bench ran 50: "
            "the 2 cores here fit fewer; `python -m bench.niid_fashion --rounds N --dataset-seed "
            f"{niid_fashion.FIRST_SESSIONS_DATASET_SEED}`), partition seed "
            f"{niid_fashion.FIRST_SESSIONS_DATASET_SEED}. Anchor: the issue's figure for NIID-Bench's FedAvg at 50 "
            "rounds.\n\n"
            + table(["partition", *rules, "anchor (FedAvg, 50 rounds)"], rows) + f"\n\nTarget (best rule at or "
            f"above the anchor): {verdicts or 'no run yet'}." + _render_niid_full(data))


def _run_time(run: dict[str, Any]) -> str:
    """How long the run took where it ran last: a run resumed from its checkpoint timed only the rest."""
    took = f"{run['seconds'] / 60:.0f} min, load {run['load']}"
    resumed = run.get("resumed_after_round", 0)
    return f"{took} for rounds {resumed + 1}-{len(run['accuracy'])} (resumed)" if resumed else took


def _render_niid_full(data: dict[str, Any]) -> str:
    """The runs at NIID-Bench's own 50 rounds, with their curve every 10 rounds."""
    runs = data.get("niid_full", {})
    if not runs:
        return ""
    rows = []
    for key, run in runs.items():
        partition, rule = key.split(":")
        curve = run["accuracy"]
        rows.append([partition, rule, f"{100 * curve[-1]:.2f}%", f"{100 * max(curve):.2f}%",
                     " / ".join(f"{100 * curve[i]:.1f}" for i in range(9, len(curve), 10)),
                     f"{100 * niid_fashion.ANCHOR[partition]:.1f}%", f"{niid_fashion.FLOWER_FEDAVG[partition]}%",
                     _run_time(run)])
    return (f"\n\n**At NIID-Bench's {data['niid_full_rounds']} rounds** (the same configuration, on the partition "
            f"of Flower's reproduction, seed {niid_fashion.DATASET_SEED}: `python -m bench.niid_fashion --rounds "
            f"{data['niid_full_rounds']} --only PARTITION:RULE`). Flower's README reports FedAvg's best accuracy "
            "across rounds, mean ± standard deviation over seeds; it also adds weight decay 1e-5, which these runs "
            "do not.\n\n"
            + table(["partition", "rule", "final", "best of any round", "accuracy at rounds 10 / 20 / ... (%)",
                     "anchor (issue)", "Flower's FedAvg (best of any round)", "run time"], rows))


def _render_others(data: dict[str, Any]) -> str:
    others = data["others"]
    rows = [[key.replace(":", " "), f"{100 * curve[-1]:.2f}%", " / ".join(f"{100 * a:.1f}" for a in curve)]
            for key, curve in sorted(others.items())]
    return ("**Tabular and Shakespeare against centralized training** (lean federation, the task's training "
            f"defaults; tabular: {tasks_bench.CLIENTS} clients, Dirichlet alpha 0.3; Shakespeare: one client per "
            f"role, the first {tasks_bench.ROLES} roles, centralized training on the same roles' examples; epochs "
            "for centralized runs, rounds for federated ones).\n\n"
            + table(["run", "final accuracy", "accuracy per round or epoch (%)"], rows or [["not run", "", ""]]))


def _render_costs(data: dict[str, Any]) -> str:
    rows = []
    for run in data["costs"]:
        rounds = later(run["rounds"])
        mean = {p: sum(r["seconds"][p] for r in rounds) / len(rounds) for p in PHASES}
        wall = sum(r["wall_seconds"] for r in rounds) / len(rounds)
        rows.append([run["task"], *(f"{mean[p]:.2f}" for p in PHASES), f"{wall:.2f}",
                     f"{100 * coordination_share(rounds):.1f}%", f"{100 * run['rounds'][-1]['accuracy']:.1f}%"])
    chain = data["costs"][0]["chain"] if data["costs"] else "?"
    return ("**Round cost of every task through the whole protocol** (`run.py demo --task NAME --clients 3`, "
            f"default backends: {chain}; the task's training defaults; rounds 2 onward; phase seconds summed over "
            "participants).\n\n" + table(["task", *PHASES, "wall per round", "coordination", "accuracy"], rows))


def _render_calibration(calibration: dict[str, Any]) -> str:
    markdown = CALIBRATION.with_suffix(".md")
    body = markdown.read_text().strip() if markdown.exists() else "(docs/bench/screening-calibration.md missing)"
    return ("**Screening calibration** (`python -m bench.screening_calibration`): honest clients of 50 and up to "
            "20,000 examples, IID and Dirichlet(0.3), three rounds each; every honest update screened with the "
            "task's defaults. Each bound leaves at least 1.5x margin over the largest honest ratio. The last columns: "
            "each update's cosine with the base's descent direction on 100 examples of the test set (the root-data "
            "screen, `--root-data`, rejects below the task's min_root_cosine), for clients of over 200 examples and "
            "for smaller ones apart.\n\n" + body)
