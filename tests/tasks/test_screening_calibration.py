"""Honest updates pass each built-in task's screening defaults (issue 17, item 6)."""

from __future__ import annotations

import json

import pytest

from bench.screening_calibration import (
    OUTPUT,
    SMALL,
    SMALL_CLIENTS,
    Scenario,
    rejections,
    root_examples,
    run_scenario,
    with_summaries,
)
from mlprocessor.data import DataError
from mlprocessor.task import ScreeningDefaults
from mlprocessor.task_registry import BUILTIN, get_task
from tests.support import require_component


def test_recorded_honest_updates_pass_the_current_defaults() -> None:
    """Every norm in the committed calibration (50 to 20,000 examples, IID, Dirichlet(0.3), mixed
    sizes; 3 rounds) against each task's defaults as they are now; where a task keeps the root
    screen on, no update of a client holding over SMALL_ROOT_LIMIT examples falls below its threshold
    (smaller, skewed clients can: the docs say so)."""
    summaries = with_summaries(json.loads(OUTPUT.read_text()))["tasks"]
    assert set(summaries) == set(BUILTIN)
    assert {name: s["honest_rejections"] for name, s in summaries.items()} == dict.fromkeys(BUILTIN, 0)
    assert {name: s["root_rejections_large"] for name, s in summaries.items()} == {
        name: None if get_task(name).screening.min_root_cosine is None else 0 for name in BUILTIN}


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_small_skewed_clients_pass_screening(name: str) -> None:
    """A fresh run: five clients of about 50 examples dealt by Dirichlet(0.3), three rounds."""
    task = get_task(name)
    try:
        train, test = task.load_data()
    except DataError as error:
        require_component(False, f"the data of {name}", str(error))
    scenario = Scenario("small dirichlet", (SMALL,) * SMALL_CLIENTS, "dirichlet", task.training.epochs)
    for record in run_scenario(task, train, root_examples(test), scenario, seed=1)["rounds"]:
        assert rejections(record, task.screening) == []


def test_rejections_apply_the_real_bounds() -> None:
    record = {"norms": [1.0, 1.0, 100.0], "sizes": [10, 10, 10], "base_norm": 10.0, "previous_median": None}
    reasons = rejections(record, ScreeningDefaults(base_norm_fraction=0.5, round_norm_factor=4.0))
    assert len(reasons) == 1 and "0.5 x the base model's norm" in reasons[0]
    assert rejections(record, ScreeningDefaults(None, None, 200.0)) == []
    assert "previous round's accepted median" in rejections({**record, "previous_median": 0.1},
                                                            ScreeningDefaults(None, 20.0, None))[0]
