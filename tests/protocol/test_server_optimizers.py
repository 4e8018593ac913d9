"""FedAvgM and FedAdam through the protocol: their state rides in the result files and `verify`
recomputes every round from the chain and the store alone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mlprocessor.aggregation import ClientUpdate, FedAvg, FedAvgM
from protocol.aggregate import SERVER_STATE_PREFIX
from protocol.plan import StrategySpec, TrainingPlan
from protocol.verification import verify_round
from tests.protocol.conftest import build_federation


@pytest.mark.parametrize("name, state_names", [("fedavgm", ["momentum"]), ("fedadam", ["adam_m", "adam_v"])])
def test_rounds_carry_the_optimizer_state_and_verify(tmp_path: Path, name: str, state_names: list[str]) -> None:
    federation = build_federation(tmp_path, plan=TrainingPlan(epochs=1, batch_size=20, lr=0.1))
    organization = federation.organization
    organization.settings = replace(organization.settings, strategy=StrategySpec(name))
    results = []
    for _ in range(2):
        round_id, _ = organization.open_round()
        for client in federation.clients:
            client.participate(round_id)
        outcome = organization.close_round(round_id)
        assert outcome.result_cid is not None, outcome.rejections
        results.append(organization.fetch_model(outcome.result_cid))
    for round_id in (1, 2):
        verification = verify_round(organization.contract, federation.store, round_id)
        assert verification.ok, verification.message
        assert name in verification.message
    first, second = results
    assert sorted(first.sections) == sorted(SERVER_STATE_PREFIX + s for s in state_names)
    assert any(first.sections[SERVER_STATE_PREFIX + s][k].tobytes() != second.sections[SERVER_STATE_PREFIX + s][k]
               .tobytes() for s in state_names for k in first.tensors)  # the state moved on


def test_round_two_uses_the_state_of_round_one() -> None:
    """With momentum, the second step is the new mean delta plus beta times the first."""
    base = {"w": np.zeros(3, np.float32)}
    first = [ClientUpdate({"w": np.array([1.0, 0.0, 2.0], np.float32)}, 1)]
    second = [ClientUpdate({"w": np.array([0.0, 1.0, 0.0], np.float32)}, 1)]
    rule = FedAvgM(server_lr=1.0, momentum=0.5)
    after_one, state = rule.aggregate_with_state(base, first, {})
    after_two, _ = rule.aggregate_with_state(after_one, second, state)
    np.testing.assert_allclose(after_two["w"], [1.5, 1.0, 3.0])
    assert FedAvg().aggregate(after_one, second)["w"].tolist() == [1.0, 1.0, 2.0]  # without the state
