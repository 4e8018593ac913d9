"""How big each section is in a quick and in a full run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TEST_DIR = REPO.parent / "shared" / "data" / "mnist"


@dataclass(frozen=True)
class SuiteSettings:
    """Sizes of the runs; every section reads only what it needs."""

    mode: str  # "quick", "full", or "partial" (a full run of chosen learning runs only)
    test_data: str | None
    clients: int = 10
    epochs: int = 5
    batch_size: int = 10
    lr: float = 0.05
    seed: int = 0
    learning_rounds: dict[str, int] = field(default_factory=lambda: {"2nn": 4, "cnn": 4})
    learning_runs: tuple[tuple[str, str, str], ...] = ()  # (model, partition, method)
    central_epochs: int = 10
    dirichlet_alpha: float = 0.3
    ewc_lambda: float = 100.0  # the default: see the continual section
    fedcurv_lambda: float = 1.0
    fedprox_mu: float = 0.01
    fisher_samples: int = 400  # every sample of a client's 400
    continual_scenarios: tuple[tuple[int, int], ...] = ((2, 2),)  # (tasks, rounds per task)
    continual_ewc_lambdas: tuple[float, ...] = (10.0, 100.0, 1000.0)
    continual_variants: tuple[str, ...] = ()  # only these continual variants (names as in the report); () = all
    compute_missing: bool = True  # False: sections built from docs/bench/runs only (run.py bench --cached-only)
    flower_model: str = "2nn"
    flower_rounds: int = 5
    overhead_rounds: int = 3
    overhead_epochs: tuple[int, ...] = (1,)
    gas_registered: tuple[int, ...] = (1, 10, 100, 1000)
    scale_clients: int = 100  # on Anvil + js-ipfs and Ganache + js-ipfs
    scale_rounds: int = 2
    scale_real_backends: bool = False  # the two js-ipfs runs (full runs only: 10-20 minutes each)
    scale_sizes: tuple[int, ...] = (10, 100)  # clients on the default backends
    scale_default_rounds: int = 2
    communication_rounds: int = 3
    attackers: int = 3
    attack_rounds: int = 6  # at E=5; E=1 runs get twice as many (bench/attacks.py)
    timing_rounds: int = 12
    secure_rounds: int = 3
    secure_clients: tuple[int, ...] = (10, 100)
    niid_rounds: int = 20  # NIID-Bench ran 50; 20 is what this 2-core machine fits (bench/niid_fashion.py)
    task_cost_rounds: int = 3
    cost_tasks: tuple[str, ...] = ()  # tasks whose round cost section 11 measures; () = every built-in


SECTION_NAMES = ("learning", "continual", "flower", "overhead", "gas", "scale", "communication", "attacks", "rounds",
                 "secure", "tasks")
MODELS = ("2nn", "cnn")
METHODS = ("fedavg", "fedavgm", "fedadam", "fedprox", "fedcurv", "ewc")
PARTITIONS = ("iid", "shards", "dirichlet")


def parse_learning_run(text: str) -> tuple[str, str, str]:
    """'cnn:iid:fedavg' -> ('cnn', 'iid', 'fedavg'), checked."""
    parts = tuple(text.split(":"))
    if len(parts) != 3 or parts[0] not in MODELS or parts[1] not in PARTITIONS or parts[2] not in METHODS:
        raise ValueError(f"expected MODEL:PARTITION:METHOD with {MODELS}, {PARTITIONS}, {METHODS}; got {text!r}")
    return parts[0], parts[1], parts[2]


def suite_settings(quick: bool, test_data: str | None) -> SuiteSettings:
    if quick:
        runs = (("2nn", "iid", "fedavg"), *(("2nn", "dirichlet", m) for m in METHODS))
        # 100 secure participants alone take 6 minutes here: the quick run measures 10 (under 10 minutes in all)
        return SuiteSettings("quick", test_data, learning_runs=runs, attack_rounds=2, secure_clients=(10,))
    return SuiteSettings(
        "full", test_data, learning_rounds={"2nn": 50, "cnn": 20},
        learning_runs=tuple(run for model in MODELS for run in (  # EWC last: on fixed data it trains like FedAvg
            *((model, p, m) for p in ("shards", "dirichlet") for m in METHODS if m != "ewc"), (model, "iid", "fedavg"),
            *((model, p, "ewc") for p in ("shards", "dirichlet")))),
        central_epochs=20,
        continual_scenarios=((3, 5), (5, 5)), overhead_epochs=(1, 5), scale_rounds=5, scale_real_backends=True,
        scale_sizes=(10, 100, 1000), scale_default_rounds=3, communication_rounds=10,
        timing_rounds=50, secure_rounds=10,
    )
