"""How big each section is in a quick and in a full run."""

from __future__ import annotations

from dataclasses import dataclass
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
    learning_rounds: int = 4
    learning_runs: tuple[tuple[str, str, str], ...] = ()  # (model, partition, method)
    central_epochs: int = 10
    dirichlet_alpha: float = 0.3
    ewc_lambda: float = 10.0
    fedcurv_lambda: float = 1.0
    fedprox_mu: float = 0.01
    forgetting_rounds_per_task: int = 2
    forgetting_ewc_lambda: float = 10.0
    forgetting_fedcurv_lambda: float = 5.0
    flower_model: str = "2nn"
    flower_rounds: int = 5
    overhead_rounds: int = 3
    overhead_epochs: tuple[int, ...] = (1,)
    gas_registered: tuple[int, ...] = (1, 10, 100, 1000)
    scale_clients: int = 100
    scale_rounds: int = 2
    communication_rounds: int = 3
    timing_rounds: int = 12


SECTION_NAMES = ("learning", "forgetting", "flower", "overhead", "gas", "scale", "communication", "rounds")
MODELS = ("2nn", "cnn")
METHODS = ("fedavg", "fedprox", "ewc", "fedcurv")
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
        return SuiteSettings("quick", test_data, learning_runs=runs)
    return SuiteSettings(
        "full", test_data, learning_rounds=20,
        learning_runs=tuple((model, p, m) for model in MODELS for p in PARTITIONS for m in METHODS),
        central_epochs=20,
        forgetting_rounds_per_task=10, overhead_epochs=(1, 5), scale_rounds=5, communication_rounds=10,
        timing_rounds=50,
    )
