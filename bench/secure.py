"""Section 10, secure aggregation: accuracy against plain FedAvg on the same seeds, and the cost of a
secure round (bytes per update, seconds and gas per round) at 10 and 100 clients, with and without dropouts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.communication import update_bytes
from bench.demo_runs import command_line, demo_args, run_demo
from bench.report import percent, table
from bench.settings import SuiteSettings

ACCURACY_TARGET_PP = 0.1
PHASES = ("join", "share", "submit", "review", "reveal", "close")


def _phase_cells(cost: dict[str, Any]) -> list[str]:
    """Seconds per protocol phase of a secure round; a plain round has none of these phases."""
    phases = cost.get("phase_seconds") or {}
    return [f"{phases[p]:.1f}" if p in phases else "-" for p in PHASES]


def _plain_round_gas(record: dict[str, Any]) -> int:
    gas = record["gas_used"]
    return gas["open"] + sum(gas["submissions"]) + gas["close"]


def _cost(settings: SuiteSettings, clients: int, dropouts: int | None) -> dict[str, Any]:
    """One round at `clients` clients: plain (dropouts None) or secure with `dropouts` clients dropping."""
    options: dict[str, Any] = {"model": "2nn", "clients": clients, "rounds": 1, "epochs": 1}
    if dropouts is not None:
        options.update(secure_aggregation="", dropouts=dropouts)
    args = [a for a in demo_args(settings, **options) if a != ""]
    record = run_demo(args)["rounds"][0]
    secure = dropouts is not None
    return {
        "clients": clients, "dropouts": dropouts, "command": command_line(args), "state": record["state"],
        "wall_seconds": record["wall_seconds"], "seconds": record["seconds"],
        "phase_seconds": record.get("phase_seconds", {}),
        "gas": record["gas_used"]["total"] if secure else _plain_round_gas(record),
        "gas_detail": record["gas_used"],
        "update_bytes": record["update_bytes"][0] if secure else update_bytes("2nn", "float32"),
    }


def run(settings: SuiteSettings) -> dict[str, Any]:
    accuracy = {}
    for mode in ("plain", "secure"):
        options: dict[str, Any] = {"model": "2nn", "rounds": settings.secure_rounds}
        if mode == "secure":
            options["secure_aggregation"] = ""
        args = [a for a in demo_args(settings, **options) if a != ""]
        summary = run_demo(args)
        accuracy[mode] = {"command": command_line(args), "accuracy": [r["accuracy"] for r in summary["rounds"]],
                          "verified": all(v["ok"] for v in summary["verified"])}
    costs = [_cost(settings, clients, dropouts)
             for clients in settings.secure_clients for dropouts in (None, 0, max(1, clients // 10))]
    return {"accuracy": accuracy, "costs": costs}


def _gap(data: dict[str, Any]) -> float:
    plain, secure = data["accuracy"]["plain"]["accuracy"], data["accuracy"]["secure"]["accuracy"]
    return max(abs(a - b) for a, b in zip(plain, secure, strict=True)) * 100


def headline(data: dict[str, Any]) -> list[list[str]]:
    gap = _gap(data)
    plain, secure = data["accuracy"]["plain"]["accuracy"], data["accuracy"]["secure"]["accuracy"]
    rows = [[f"Secure aggregation vs plain FedAvg, 2NN, same seeds, {len(plain)} rounds",
             f"{percent(secure[-1])} vs {percent(plain[-1])} (largest per-round gap {gap:.3f} pp)",
             f"within {ACCURACY_TARGET_PP} pp: {'met' if gap <= ACCURACY_TARGET_PP else '**missed**'}"]]
    for cost in data["costs"]:
        if cost["dropouts"]:
            rows.append([f"Secure round, {cost['clients']} clients, {cost['dropouts']} dropouts: seconds / gas",
                         f"{cost['wall_seconds']:.1f} s / {cost['gas']:,}", ""])
    return rows


def render(data: dict[str, Any], figures: Path, mode: str) -> str:
    accuracy = data["accuracy"]
    plain, secure = accuracy["plain"]["accuracy"], accuracy["secure"]["accuracy"]
    accuracy_rows = [[index + 1, percent(p), percent(s), f"{100 * (s - p):+.4f} pp"]
                     for index, (p, s) in enumerate(zip(plain, secure, strict=True))]
    cost_rows = [[c["clients"], "plain" if c["dropouts"] is None else f"secure, {c['dropouts']} dropouts",
                  c["state"], f"{c['update_bytes']:,}", f"{c['wall_seconds']:.1f}",
                  *_phase_cells(c), f"{c['gas']:,}", f"{c['gas'] // c['clients']:,}"]
                 for c in data["costs"]]
    return ("Accuracy per round, plain FedAvg and secure aggregation on the same seeds (2NN, IID, the suite's "
            f"clients and epochs); every secure round verified from public data: {accuracy['secure']['verified']}."
            "\n\n" + table(["round", "plain FedAvg", "secure", "difference"], accuracy_rows)
            + "\n\nCost of one round (2NN, one epoch; the demo's defaults: a private Anvil and the embedded store, "
            "one demo process, in which a plain round's clients train in worker processes and a secure round's in "
            "its threads). Seconds are wall-clock: the whole round, then each protocol phase. The demo takes the "
            "joins, share postings and reveals one participant after another, so those columns are sums over "
            "participants; parties on their own machines do theirs at once. Join and share: every participant's "
            "transaction and the blocks to the deadline; submit: local training, masking and upload; review: the "
            "organization fetching every masked file and ending the review; reveal: the "
            "survivors' share reveals; close: unmasking, the sum check, evaluation, publishing and finalizing. Gas "
            "is every transaction of the round: open, joins, share postings, submissions, reveals, finalize.\n\n"
            + table(["clients", "round", "state", "bytes per update", "seconds", *(f"{p} s" for p in PHASES),
                     "gas per round", "gas per client"], cost_rows)
            + "\n\nCommands: " + "; ".join(f"`{r['command']}`" for r in (*accuracy.values(), *data["costs"])))
