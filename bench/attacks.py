"""Section 8, attacks: final test accuracy when some clients are hostile, for FedAvg and each
robust rule, next to the attack-free run (2NN, IID, embedded chain and store).

Targets (issue 11): `inflate-samples`, `free-ride` and `fisher-poison` exploit claims the bounds
remove, so each costs plain FedAvg at most 3 pp; for `scale` and `sign-flip` at least one rule
keeps the cost under 3 pp.
"""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

from bench.federation import build_federation
from bench.report import percent, seconds, table
from bench.run_cache import cached_run
from bench.settings import SuiteSettings
from client.adversary import make_hostile
from client.service import ClientSettings
from mlprocessor.partition import partition
from organization.service import OrganizationSettings
from protocol.plan import StrategySpec, TrainingPlan
from tasks.mnist import load_mnist

TARGET_PP = 3.0
BOUND_ATTACKS = ("inflate-samples", "free-ride", "fisher-poison")  # FedAvg alone must hold
ROBUST_ATTACKS = ("scale", "sign-flip")  # at least one rule must hold


def rules(attackers: int) -> dict[str, StrategySpec]:
    """FedAvg and each robust rule, tuned to tolerate `attackers` hostile clients."""
    return {
        "fedavg": StrategySpec("fedavg"),
        "median": StrategySpec("median"),
        "trimmed-mean": StrategySpec("trimmed-mean", {"beta": 0.3}),
        "krum": StrategySpec("krum", {"f": attackers}),
        "multi-krum": StrategySpec("multi-krum", {"f": attackers}),
    }


def runs(settings: SuiteSettings) -> list[tuple[str, str, bool]]:
    """(attack, rule, fedcurv): every attack under every rule; the FedCurv pair under FedAvg."""
    names = list(rules(settings.attackers))
    plain = [(attack, rule, False) for attack in ("none", "inflate-samples", "scale", "sign-flip", "free-ride")
             for rule in names]
    return [*plain, ("none", "fedavg", True), ("fisher-poison", "fedavg", True)]


def attack_run(settings: SuiteSettings, attack: str, rule: str, fedcurv: bool) -> dict[str, Any]:
    """Final accuracy of one federation with `settings.attackers` hostile clients (none for 'none')."""
    torch.set_num_threads(1)
    train, test = load_mnist("mnist-5k", settings.test_data)
    parts = partition(train.y, settings.clients, "iid", seed=settings.seed)
    attackers = 0 if attack == "none" else settings.attackers
    plan = TrainingPlan(settings.attack_epochs, settings.batch_size, settings.lr,
                        fedcurv_lambda=settings.fedcurv_lambda if fedcurv else 0.0)
    honest = settings.clients - attackers
    organization_settings = OrganizationSettings(
        task="2nn", strategy=rules(settings.attackers)[rule], plan=plan, quorum=honest, target=settings.clients,
        deadline_blocks=10_000, seed=settings.seed)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fedchain-attack-") as home:
        federation = build_federation(Path(home), organization_settings, [train.subset(p) for p in parts],
                                      ClientSettings(seed=settings.seed, fisher_samples=100))
        organization = federation.organization
        organization.test_data = test
        clients = make_hostile(federation.clients, attackers, attack if attackers else "sign-flip", log=_silent)
        accuracies, rejected = [], []
        with ThreadPoolExecutor(2) as pool:
            for _ in range(settings.attack_rounds):
                round_id, _ = organization.open_round()
                list(pool.map(lambda client, r=round_id: client.participate(r), clients))
                outcome = organization.close_round(round_id)
                accuracies.append(outcome.accuracy)
                rejected.append(sorted(outcome.rejections))
    return {"attack": attack, "rule": rule, "fedcurv": fedcurv, "attackers": attackers, "accuracy": accuracies,
            "rejected": rejected, "wall_seconds": round(time.perf_counter() - started, 1)}


def run_key(settings: SuiteSettings, attack: str, rule: str, fedcurv: bool) -> dict[str, Any]:
    """What determines one run's result: its cache key (docs/bench/runs/)."""
    return {"attack": attack, "rule": rule, "fedcurv": fedcurv, "strategy": repr(rules(settings.attackers)[rule]),
            "clients": settings.clients, "attackers": settings.attackers, "rounds": settings.attack_rounds,
            "epochs": settings.attack_epochs, "batch_size": settings.batch_size, "lr": settings.lr,
            "seed": settings.seed, "fedcurv_lambda": settings.fedcurv_lambda if fedcurv else 0.0,
            "test_data": bool(settings.test_data)}


def run(settings: SuiteSettings) -> dict[str, Any]:
    """Every run, each kept in the run cache: an interrupted section resumes, processes share the work."""
    results = []
    for attack, rule, fedcurv in runs(settings):
        record = cached_run(f"attacks-{attack}-{rule}{'-fedcurv' if fedcurv else ''}",
                            run_key(settings, attack, rule, fedcurv),
                            lambda a=attack, r=rule, f=fedcurv: attack_run(settings, a, r, f),
                            settings.compute_missing)
        if record is not None:  # None: another process is still computing it
            results.append({**record["data"], "command": record["command"],
                            "load": record["load_before"]["one_minute"]})
    return {"clients": settings.clients, "attackers": settings.attackers, "rounds": settings.attack_rounds,
            "epochs": settings.attack_epochs, "runs": results}


def _final(data: dict[str, Any], attack: str, rule: str, fedcurv: bool = False) -> float | None:
    found = [r["accuracy"][-1] for r in data["runs"]
             if (r["attack"], r["rule"], r["fedcurv"]) == (attack, rule, fedcurv) and r["accuracy"][-1] is not None]
    return found[0] if found else None


def _cost(data: dict[str, Any], attack: str, rule: str) -> float | None:
    """Points lost against the attack-free FedAvg run (with FedCurv for fisher-poison)."""
    fedcurv = attack == "fisher-poison"
    clean, attacked = _final(data, "none", "fedavg", fedcurv), _final(data, attack, rule, fedcurv)
    return None if clean is None or attacked is None else 100 * (clean - attacked)


def verdicts(data: dict[str, Any]) -> list[list[str]]:
    """One line per attack: its target and whether it was met."""
    lines = []
    for attack in BOUND_ATTACKS:
        cost = _cost(data, attack, "fedavg")
        if cost is not None:
            lines.append([f"{attack}: cost to FedAvg vs attack-free", f"{cost:+.2f} pp",
                          f"<= {TARGET_PP:g} pp: {'met' if cost <= TARGET_PP else '**missed**'}"])
    for attack in ROBUST_ATTACKS:
        costs = {rule: c for rule in rules(data["attackers"]) if (c := _cost(data, attack, rule)) is not None}
        holding = [rule for rule, c in costs.items() if c < TARGET_PP]
        if costs:
            lines.append([f"{attack}: cost per rule vs attack-free FedAvg",
                          ", ".join(f"{r} {c:+.2f} pp" for r, c in costs.items()),
                          f"at least one < {TARGET_PP:g} pp: "
                          f"{'met (' + ', '.join(holding) + ')' if holding else '**missed**'}"])
    return lines


def render(data: dict[str, Any], figures: Path, mode: str) -> str:
    names = list(rules(data["attackers"]))
    attacks = ("none", "inflate-samples", "scale", "sign-flip", "free-ride")
    rows = [[attack, *(percent(_final(data, attack, rule)) for rule in names)] for attack in attacks]
    rows += [[f"{attack} (FedCurv)", percent(_final(data, attack, "fedavg", True)), *["-"] * (len(names) - 1)]
             for attack in ("none", "fisher-poison")]
    intro = (f"{data['clients']} clients (2NN, IID), {data['attackers']} of them hostile, {data['rounds']} rounds of "
             f"E={data['epochs']}; final test accuracy on the 10,000 MNIST test images. Rules: trimmed-mean "
             f"beta=0.3, krum and multi-krum f={data['attackers']}. Attacks as `client/adversary.py` defines them.")
    wall = sum(r["wall_seconds"] for r in data["runs"])
    commands = sorted({r["command"] for r in data["runs"] if r.get("command")})
    loads = [r["load"] for r in data["runs"] if r.get("load") is not None]
    produced = (f" Runs produced by {'; '.join(f'`{c}`' for c in commands)}, load average (1 min) "
                f"{min(loads)}-{max(loads)} on 2 cores." if commands and loads else "")
    return "\n\n".join([intro, table(["attack", *names], rows), table(["target", "result", "verdict"],
                                                                       verdicts(data)),
                        f"{len(data['runs'])} runs, {seconds(wall)} in all.{produced}"])


def headline(data: dict[str, Any]) -> list[list[str]]:
    return verdicts(data)


def _silent(_: str) -> None:
    """Attack logs are not part of the benchmark's output."""
