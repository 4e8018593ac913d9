"""Section 8, attacks: final test accuracy when 3 of 10 clients are hostile, for FedAvg (the
default) and each robust rule, next to the attack-free run, in four regimes: E=1 and E=5, IID and
Dirichlet(0.3). The lean in-process federation (bench/lean_federation.py) screens and bounds
updates with the organization's own functions; the protocol around them is tested elsewhere.

Targets (issue 19): `inflate-samples`, `free-ride`, `fisher-poison` and `zero-update` (filling a
round with zeros) each cost FedAvg at most 3 pp against the attack-free run; for `scale` and
`sign-flip` at least one rule stays under 3 pp in every regime; the attack-free run under the
influence bounds loses nothing against the same run without them (today's rule before issue 19).

Every cell runs on seed 0, which fixes the data split, the model's initialisation, the clients'
batches and the attackers' noise, so a cell near its target can pass or miss on that alone. The
hardest cell, `inflate-samples` on Dirichlet(0.3) data, also runs on seeds 1-4 at E=1 and E=5,
with the attack-free runs with and without the bounds and the zero-update run (every attacker
rejected: what the attackers' withheld data alone costs, which no rule can win back).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.lean_federation import Attack, LeanFederation, Method, Submission
from bench.report import percent, seconds, table
from bench.run_cache import cached_run
from bench.settings import SuiteSettings
from client.adversary import SCALE_FACTOR, noise_inside_bounds
from mlprocessor.aggregation import ClientUpdate
from mlprocessor.aggregation.bounds import InfluenceBounds
from mlprocessor.data import stratified_holdout
from mlprocessor.evaluation import evaluate
from mlprocessor.models import model_from_state
from mlprocessor.partition import partition
from mlprocessor.task_registry import get_task
from mlprocessor.validation import ValidationConfig, l2_norm
from protocol.plan import StrategySpec
from tasks.mnist import load_mnist

TARGET_PP = 3.0
NOTHING_LOST_PP = 0.5  # "loses nothing": within this of the run without bounds (one seed's noise)
MAX_CLAIM = 10_000  # the organization's default cap on one update's claim (OrganizationSettings.max_samples)
BOUND_ATTACKS = ("inflate-samples", "free-ride", "zero-update", "fisher-poison")  # FedAvg alone must hold
ROBUST_ATTACKS = ("scale", "sign-flip")  # at least one rule must hold
ATTACKS = ("none", *BOUND_ATTACKS, *ROBUST_ATTACKS)
REGIMES = (("iid", 1), ("iid", 5), ("dirichlet", 1), ("dirichlet", 5))
SEEDS = (0, 1, 2, 3, 4)  # of the hardest cell, SEEDED_ATTACK on Dirichlet(0.3)
SEEDED_ATTACK = "inflate-samples"
TODAY = "fedavg, no bounds"  # the attack-free run as aggregated before issue 19
ROOT_RULE = "fedavg+root"  # FedAvg, the organization screening by direction on its root data
ROOT_PER_CLASS = 10  # 100 test images, FLTrust's root size (mlprocessor/root_direction.py)


def screening() -> ValidationConfig:
    return replace(ValidationConfig.for_task(get_task("mnist-2nn").screening), max_samples=MAX_CLAIM)


def rules(attackers: int) -> dict[str, StrategySpec]:
    """FedAvg and each robust rule, tuned to tolerate `attackers` hostile clients."""
    return {
        "fedavg": StrategySpec("fedavg"),
        "median": StrategySpec("median"),
        "trimmed-mean": StrategySpec("trimmed-mean", {"beta": 0.3}),
        "krum": StrategySpec("krum", {"f": attackers}),
        "multi-krum": StrategySpec("multi-krum", {"f": attackers}),
    }


def strategy(rule: str, attackers: int) -> StrategySpec:
    """The aggregation rule behind a table column (the root-data column aggregates with FedAvg)."""
    return StrategySpec("fedavg") if rule == ROOT_RULE else rules(attackers)[rule]


def columns(attackers: int) -> list[str]:
    return [*rules(attackers), ROOT_RULE]


def _inflate(federation: LeanFederation, index: int, own: Submission, _: Sequence[Submission]) -> Submission:
    """Noise just inside the published bounds, claiming the maximum (client/adversary.py's attack)."""
    seed = 1_000 * federation.round + index
    noise = noise_inside_bounds(federation.state, federation.previous_median, l2_norm(own.update.delta),
                                screening(), seed)
    return Submission(ClientUpdate(noise, MAX_CLAIM), own.fisher, own.key)


def _free_ride(_: LeanFederation, __: int, ___: Submission, earlier: Sequence[Submission]) -> Submission:
    return earlier[0]  # the first client's file again: the same CID


def _zero(_: LeanFederation, __: int, own: Submission, ___: Sequence[Submission]) -> Submission:
    zeros = {k: np.zeros_like(v) for k, v in own.update.delta.items()}
    return Submission(ClientUpdate(zeros, own.update.sample_count), own.fisher, own.key)


def _fisher_poison(_: LeanFederation, __: int, own: Submission, ___: Sequence[Submission]) -> Submission:
    assert own.fisher is not None
    return replace(own, fisher={k: np.full_like(v, screening().fisher_max) for k, v in own.fisher.items()})


def _scaled(factor: float) -> Attack:
    def attack(_: LeanFederation, __: int, own: Submission, ___: Sequence[Submission]) -> Submission:
        delta = {k: (factor * v).astype(np.float32) for k, v in own.update.delta.items()}
        return replace(own, update=ClientUpdate(delta, own.update.sample_count))
    return attack


LEAN_ATTACKS: dict[str, Attack] = {"inflate-samples": _inflate, "free-ride": _free_ride, "zero-update": _zero,
                                   "fisher-poison": _fisher_poison, "scale": _scaled(SCALE_FACTOR),
                                   "sign-flip": _scaled(-1.0)}


def runs(settings: SuiteSettings) -> list[dict[str, Any]]:
    """Per regime: the attack-free run with and without bounds, each bound attack under FedAvg, each
    robust attack under every rule; FedCurv for fisher-poison and its attack-free run."""
    out = []
    for scheme, epochs in REGIMES:
        regime = {"partition": scheme, "epochs": epochs}
        out += [{**regime, "attack": "none", "rule": "fedavg", "bounds": True, "fedcurv": False},
                {**regime, "attack": "none", "rule": "fedavg", "bounds": False, "fedcurv": False},
                {**regime, "attack": "none", "rule": "fedavg", "bounds": True, "fedcurv": True},
                {**regime, "attack": "none", "rule": ROOT_RULE, "bounds": True, "fedcurv": False},
                *({**regime, "attack": a, "rule": "fedavg", "bounds": True, "fedcurv": a == "fisher-poison"}
                  for a in BOUND_ATTACKS),
                *({**regime, "attack": a, "rule": r, "bounds": True, "fedcurv": False}
                  for a in ROBUST_ATTACKS for r in columns(settings.attackers))]
    return out


def attack_run(settings: SuiteSettings, run: dict[str, Any]) -> dict[str, Any]:
    """Accuracy per round of one federation; the last `settings.attackers` clients hostile unless 'none'."""
    torch.set_num_threads(1)
    train, test = load_mnist("mnist-5k", settings.test_data)
    parts = partition(train.y, settings.clients, run["partition"], seed=settings.seed, alpha=settings.dirichlet_alpha)
    hostile = 0 if run["attack"] == "none" else settings.attackers
    attack = LEAN_ATTACKS.get(run["attack"])
    root = test.subset(stratified_holdout(test.y, ROOT_PER_CLASS)) if run["rule"] == ROOT_RULE else None
    method = Method(strategy=strategy(run["rule"], settings.attackers).build(),
                    fedcurv_lambda=settings.fedcurv_lambda if run["fedcurv"] else 0.0, screening=screening(),
                    bounds=InfluenceBounds() if run["bounds"] else None, root=root)
    attacks = {i: attack for i in range(settings.clients - hostile, settings.clients)} if attack else {}
    federation = LeanFederation("2nn", [train.subset(p) for p in parts], method, run["epochs"], settings.batch_size,
                                settings.lr, seed=settings.seed, fisher_samples=100, attacks=attacks)
    started = time.perf_counter()
    accuracies = []
    for _ in range(rounds_for(settings, run["epochs"])):
        federation.run_round()
        accuracies.append(evaluate(model_from_state("2nn", federation.state), test).accuracy)
    rejected = [sorted(r) for r in federation.rejections]
    return {**run, "attackers": hostile, "accuracy": accuracies, "rejected": rejected,
            "reasons": sorted({re.sub(r"\d[\d.e+-]*", "#", reason) for r in federation.rejections
                               for reason in r.values()}),
            "wall_seconds": round(time.perf_counter() - started, 1)}


def rounds_for(settings: SuiteSettings, epochs: int) -> int:
    """E=1 runs get more rounds than E=5 runs so both reach a comparable point of training."""
    return settings.attack_rounds if epochs > 1 else 2 * settings.attack_rounds


def run_key(settings: SuiteSettings, run: dict[str, Any]) -> dict[str, Any]:
    """What determines one run's result: its cache key (docs/bench/runs/)."""
    return {**run, "strategy": repr(strategy(run["rule"], settings.attackers)), "clients": settings.clients,
            "attackers": settings.attackers, "rounds": rounds_for(settings, run["epochs"]),
            "batch_size": settings.batch_size, "lr": settings.lr, "seed": settings.seed,
            "alpha": settings.dirichlet_alpha, "fedcurv_lambda": settings.fedcurv_lambda if run["fedcurv"] else 0.0,
            "test_data": bool(settings.test_data), "lean": 19, **_root_key(run), **_bounds_key(run)}


def _bounds_key(run: dict[str, Any]) -> dict[str, Any]:
    """The influence bounds' factors, for the runs bounded by them (runs made before alignment
    weighting have no key and stay the runs without it)."""
    bounds = InfluenceBounds()
    return {"alignment": bounds.alignment, "trajectory": bounds.trajectory} if run["bounds"] and bounds.alignment \
        else {}


def _root_key(run: dict[str, Any]) -> dict[str, Any]:
    """The root screen's own parameters, for the runs that screen with it."""
    if run["rule"] != ROOT_RULE:
        return {}
    return {"root_per_class": ROOT_PER_CLASS, "min_root_cosine": screening().min_root_cosine}


def cached_attack_run(settings: SuiteSettings, spec: dict[str, Any]) -> dict[str, Any] | None:
    """One run from docs/bench/runs/, computed and kept there when missing (and allowed)."""
    label = (f"attacks19-{spec['partition']}-e{spec['epochs']}-{spec['attack']}-{spec['rule']}"
             f"{'-fedcurv' if spec['fedcurv'] else ''}{'' if spec['bounds'] else '-unbounded'}")
    return cached_run(label, run_key(settings, spec), lambda: attack_run(settings, spec), settings.compute_missing)


def seeded_runs(settings: SuiteSettings) -> list[tuple[int, dict[str, Any]]]:
    """The hardest cell on every seed but 0 (which `runs` covers), with its attack-free runs with and
    without bounds and its zero-update run, at E=1 and E=5 (full runs only)."""
    if settings.mode == "quick":
        return []
    return [(seed, {"partition": "dirichlet", "epochs": epochs, "attack": attack, "rule": "fedavg",
                    "bounds": bounds, "fedcurv": False})
            for epochs in (1, 5) for seed in SEEDS[1:]
            for attack, bounds in (("none", True), ("none", False), (SEEDED_ATTACK, True), ("zero-update", True))]


def run(settings: SuiteSettings) -> dict[str, Any]:
    """Every run, each kept in the run cache: an interrupted section resumes, processes share the work."""
    results = []
    for seed, spec in [(settings.seed, spec) for spec in runs(settings)] + seeded_runs(settings):
        record = cached_attack_run(replace(settings, seed=seed), spec)
        if record is not None:  # None: another process is still computing it
            results.append({**record["data"], "seed": seed, "command": record["command"],
                            "load": record["load_before"]["one_minute"]})
    return {"clients": settings.clients, "attackers": settings.attackers, "rounds": settings.attack_rounds,
            "alpha": settings.dirichlet_alpha, "seed": settings.seed, "runs": results}


def _final(data: dict[str, Any], regime: tuple[str, int], attack: str, rule: str, *, fedcurv: bool = False,
           bounds: bool = True, seed: int | None = None) -> float | None:
    """The final accuracy of one run; on the section's seed unless another is named."""
    wanted = data.get("seed", 0) if seed is None else seed
    found = [r["accuracy"][-1] for r in data["runs"]
             if (r["partition"], r["epochs"], r["attack"], r["rule"], r["fedcurv"], r["bounds"], r.get("seed", 0))
             == (*regime, attack, rule, fedcurv, bounds, wanted)]
    return found[0] if found else None


def seeds_table(data: dict[str, Any]) -> tuple[list[list[str]], list[list[str]]]:
    """Per regime and seed, the hardest cell: attack-free accuracy with bounds, its change against
    the run without them, the attack's cost and the withheld data's share of it; then a verdict
    line per regime over the seeds."""
    rows, lines = [], []
    for regime in (("dirichlet", 1), ("dirichlet", 5)):
        costs, changes = [], []
        for seed in SEEDS:
            clean = _final(data, regime, "none", "fedavg", seed=seed)
            today = _final(data, regime, "none", "fedavg", bounds=False, seed=seed)
            attacked = _final(data, regime, SEEDED_ATTACK, "fedavg", seed=seed)
            alone = _final(data, regime, "zero-update", "fedavg", seed=seed)
            if clean is None or today is None or attacked is None or alone is None:
                continue
            costs.append(100 * (clean - attacked))
            changes.append(100 * (clean - today))
            rows.append([_name(regime), str(seed), percent(clean), f"{changes[-1]:+.2f} pp", percent(attacked),
                         f"{costs[-1]:+.2f} pp", f"{100 * (clean - alone):+.2f} pp"])
        if costs:
            held, lost = sum(c <= TARGET_PP for c in costs), float(np.mean(changes))
            over = f"over seeds {SEEDS[0]}-{SEEDS[-1]}"
            lines.append([f"{_name(regime)}: {SEEDED_ATTACK}, cost to FedAvg {over}",
                          f"mean {np.mean(costs):+.2f}, worst {max(costs):+.2f} pp",
                          f"<= {TARGET_PP:g} pp on {held} of {len(costs)}: "
                          f"{'met' if held == len(costs) else '**missed**'}"])
            lines.append([f"{_name(regime)}: attack-free with bounds vs without {over}",
                          f"mean {lost:+.2f}, worst {min(changes):+.2f} pp",
                          f"mean >= -{NOTHING_LOST_PP:g} pp: {'met' if lost >= -NOTHING_LOST_PP else '**missed**'}"])
    return rows, lines


def _cost(data: dict[str, Any], regime: tuple[str, int], attack: str, rule: str) -> float | None:
    """Points lost against the attack-free FedAvg run (with FedCurv for fisher-poison)."""
    fedcurv = attack == "fisher-poison"
    clean = _final(data, regime, "none", "fedavg", fedcurv=fedcurv)
    attacked = _final(data, regime, attack, rule, fedcurv=fedcurv)
    return None if clean is None or attacked is None else 100 * (clean - attacked)


def _name(regime: tuple[str, int]) -> str:
    return f"{'IID' if regime[0] == 'iid' else 'Dirichlet(0.3)'} E={regime[1]}"


def verdicts(data: dict[str, Any]) -> list[list[str]]:
    """One line per target and regime: the result and whether it was met."""
    lines = []
    for regime in REGIMES:
        clean, today = _final(data, regime, "none", "fedavg"), _final(data, regime, "none", "fedavg", bounds=False)
        if clean is not None and today is not None:
            change = 100 * (clean - today)
            lines.append([f"{_name(regime)}: attack-free with bounds vs without", f"{change:+.2f} pp",
                          f">= -{NOTHING_LOST_PP:g} pp: {'met' if change >= -NOTHING_LOST_PP else '**missed**'}"])
        if clean is not None and (screened := _final(data, regime, "none", ROOT_RULE)) is not None:
            change = 100 * (screened - clean)
            lines.append([f"{_name(regime)}: attack-free with the root-data screen vs without", f"{change:+.2f} pp",
                          f">= -{NOTHING_LOST_PP:g} pp: {'met' if change >= -NOTHING_LOST_PP else '**missed**'}"])
        for attack in BOUND_ATTACKS:
            if (cost := _cost(data, regime, attack, "fedavg")) is not None:
                lines.append([f"{_name(regime)}: {attack}, cost to FedAvg", f"{cost:+.2f} pp",
                              f"<= {TARGET_PP:g} pp: {'met' if cost <= TARGET_PP else '**missed**'}"])
        for attack in ROBUST_ATTACKS:
            costs = {r: c for r in columns(data["attackers"]) if (c := _cost(data, regime, attack, r)) is not None}
            holding = [r for r, c in costs.items() if c < TARGET_PP]
            if costs:
                lines.append([f"{_name(regime)}: {attack}, cost per rule",
                              ", ".join(f"{r} {c:+.2f}" for r, c in costs.items()),
                              f"one < {TARGET_PP:g} pp: "
                              f"{'met (' + ', '.join(holding) + ')' if holding else '**missed**'}"])
    return lines


def render(data: dict[str, Any], figures: Path, mode: str) -> str:
    names = columns(data["attackers"])
    headers = ["regime", "attack", *names]
    rows = []
    for regime in REGIMES:
        rows.append([_name(regime), f"none ({TODAY})", percent(_final(data, regime, "none", "fedavg", bounds=False)),
                     *["-"] * (len(names) - 1)])
        rows.append([_name(regime), "none", *[percent(_final(data, regime, "none", r)) if r in ("fedavg", ROOT_RULE)
                                              else "-" for r in names]])
        for attack in ATTACKS[1:]:
            fedcurv = attack == "fisher-poison"
            label = f"{attack} (FedCurv)" if fedcurv else attack
            cells = [percent(_final(data, regime, attack, r, fedcurv=fedcurv)) if attack in ROBUST_ATTACKS
                     or r == "fedavg" else "-" for r in names]
            rows.append([_name(regime), label, *cells])
        rows.append([_name(regime), "none (FedCurv)", percent(_final(data, regime, "none", "fedavg", fedcurv=True)),
                     *["-"] * (len(names) - 1)])
    intro = (f"{data['clients']} clients (MNIST 2NN, 5,000 training images split IID or Dirichlet({data['alpha']:g})), "
             f"{data['attackers']} of them hostile (the last three), {data['rounds']} rounds at E=5 and "
             f"{2 * data['rounds']} at E=1, B=10, lr 0.05; final test accuracy on the 10,000 MNIST test images. "
             "Lean in-process federation with the organization's screening (mnist-2nn defaults, claims up to "
             f"{MAX_CLAIM:,}) and influence bounds (clip 2 x the median norm, weights capped at the median claim, "
             "Fisher sections at 2 x the median norm, weights scaled down by alignment with the model's movement "
             f"over its last {InfluenceBounds().trajectory} rounds below {InfluenceBounds().alignment:g} x the "
             "round's median alignment); FedCurv lambda 1. "
             "Rules: trimmed-mean beta=0.3, krum and "
             f"multi-krum f={data['attackers']}; {ROOT_RULE}: FedAvg, the organization rejecting updates whose "
             f"cosine with the base's descent direction on its root data ({ROOT_PER_CLASS} test images per class, "
             "FLTrust's root size) is below -0.1 (`run.py organization --root-data`). Attacks as "
             "`client/adversary.py` defines them.")
    wall = sum(r["wall_seconds"] for r in data["runs"])
    commands = sorted({r["command"] for r in data["runs"] if r.get("command")})
    loads = [r["load"] for r in data["runs"] if r.get("load") is not None]
    produced = (f" Runs produced by {'; '.join(f'`{c}`' for c in commands)}, load average (1 min) "
                f"{min(loads)}-{max(loads)} on 2 cores." if commands and loads else "")
    seeded, seeded_verdicts = seeds_table(data)
    parts = [intro, table(headers, rows), table(["target", "result", "verdict"], verdicts(data))]
    if seeded:
        parts += [f"The hardest cell over seeds ({SEEDED_ATTACK}, FedAvg with the influence bounds; a seed fixes the "
                  "data split, the initial model, the batches and the attackers' noise; 'withheld data' is the "
                  "zero-update run's cost, in which every attacker is rejected and the honest clients train alone):",
                  table(["regime", "seed", "attack-free", "vs without bounds", SEEDED_ATTACK, "cost",
                         "withheld data alone"], seeded),
                  table(["target", "result", "verdict"], seeded_verdicts)]
    return "\n\n".join([*parts, f"{len(data['runs'])} runs, {seconds(wall)} in all.{produced}", MAJORITY])


MAJORITY = (
    "**What open registration cannot prevent: an attacker majority.** Every bound here is relative to "
    "a median (of norms, of claims, of Fisher sections) and every robust rule assumes fewer hostile "
    "clients than honest ones (Krum and trimmed mean need f < n/2 and more): when sybils are most of "
    "a round (e.g. 3 of 5 sign-flipping at 0.49 x the base norm), their updates *are* the median, "
    "pass screening and are clipped to their own scale, and no rule tells them apart. A federation "
    "that cannot rule that out must not run with open registration: use the allow-list "
    "(`run.py deploy --registration allow-list`, `run.py clients allow ADDR`), which refuses "
    "unknown accounts before they can submit (tests/adversarial/test_influence.py).")


def headline(data: dict[str, Any]) -> list[list[str]]:
    return verdicts(data) + seeds_table(data)[1]
