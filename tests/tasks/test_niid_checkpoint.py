"""A 50-round NIID-Bench run outlives its process: after every round it leaves a checkpoint, and a
run resumed from one continues exactly as if it had never stopped (server momentum included)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.lean_federation import LeanFederation, Method
from bench.niid_fashion import resume_from, save_checkpoint
from mlprocessor.aggregation import FedAvgM
from tests.protocol.conftest import small_data


def _federation() -> LeanFederation:
    train, _ = small_data()
    clients = [train.subset(np.arange(start, start + 60)) for start in (0, 60, 120)]
    return LeanFederation("mnist-2nn", clients, Method(FedAvgM()), epochs=1, batch_size=10, lr=0.05, seed=3)


def test_a_resumed_run_continues_exactly(tmp_path: Path) -> None:
    straight = _federation()
    for _ in range(3):
        straight.run_round()

    checkpoint = tmp_path / "run.rounds.npz"
    first = _federation()
    first.run_round()
    save_checkpoint(first, [0.5], checkpoint)
    resumed = _federation()
    assert resume_from(resumed, checkpoint) == [0.5] and resumed.round == 1
    for _ in range(2):
        resumed.run_round()

    assert straight.state.keys() == resumed.state.keys()
    for name in straight.state:
        np.testing.assert_array_equal(straight.state[name], resumed.state[name])
        np.testing.assert_array_equal(straight.server_state["momentum"][name], resumed.server_state["momentum"][name])


def test_no_checkpoint_means_a_fresh_start(tmp_path: Path) -> None:
    federation = _federation()
    assert resume_from(federation, tmp_path / "missing.rounds.npz") == [] and federation.round == 0
