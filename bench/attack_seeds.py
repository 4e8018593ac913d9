"""One cell of the attack section (section 8) over several seeds: how much of its cost is one
seed's luck. Section 8 runs every cell on seed 0, which fixes the data split, the model's
initialisation, the clients' batches and the attackers' noise; a cell near its 3 pp target can
pass or miss on that alone. Beside each cost: what the attackers' withheld data alone costs (the
zero-update run, in which every attacker is rejected and the honest clients train alone), which
no rule can win back.

`python -m bench.attack_seeds --seeds 0 1 2 3 4` (default: inflate-samples at Dirichlet(0.3) E=5,
the cell section 8 misses); runs are kept in docs/bench/runs/ as section 8's are, seed 0's shared
with it.
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import replace

from bench.attacks import BOUND_ATTACKS, TARGET_PP, cached_attack_run
from bench.settings import DEFAULT_TEST_DIR, SuiteSettings, suite_settings


def final_accuracy(settings: SuiteSettings, regime: tuple[str, int], attack: str) -> float:
    spec = {"partition": regime[0], "epochs": regime[1], "attack": attack, "rule": "fedavg", "bounds": True,
            "fedcurv": attack == "fisher-poison"}
    record = cached_attack_run(settings, spec)
    if record is None:
        raise SystemExit(f"another process is computing the {attack} run of seed {settings.seed}: "
                         "try again when it is done")
    return record["data"]["accuracy"][-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--partition", choices=("iid", "dirichlet"), default="dirichlet")
    parser.add_argument("--epochs", type=int, choices=(1, 5), default=5)
    parser.add_argument("--attack", choices=BOUND_ATTACKS, default="inflate-samples")
    args = parser.parse_args()
    settings = suite_settings(quick=False, test_data=str(DEFAULT_TEST_DIR) if DEFAULT_TEST_DIR.is_dir() else None)
    regime = (args.partition, args.epochs)
    print(f"{args.attack} at {args.partition} E={args.epochs}, FedAvg with the influence bounds")
    print("| seed | attack-free | attacked | cost | honest clients alone (zero-update: every attacker rejected) "
          "| cost of the attackers' own data |\n|---|---|---|---|---|---|")
    costs = []
    for seed in args.seeds:
        seeded = replace(settings, seed=seed)
        clean, attacked, alone = (final_accuracy(seeded, regime, attack)
                                  for attack in ("none", args.attack, "zero-update"))
        costs.append(100 * (clean - attacked))
        print(f"| {seed} | {clean:.2%} | {attacked:.2%} | {costs[-1]:+.2f} pp | {alone:.2%} "
              f"| {100 * (clean - alone):+.2f} pp |", flush=True)
    spread = f", standard deviation {statistics.stdev(costs):.2f}" if len(costs) > 1 else ""
    print(f"cost over {len(costs)} seeds: mean {statistics.mean(costs):+.2f} pp{spread}, from {min(costs):+.2f} "
          f"to {max(costs):+.2f}; at most {TARGET_PP:g} pp on {sum(c <= TARGET_PP for c in costs)} of {len(costs)}")


if __name__ == "__main__":
    main()
