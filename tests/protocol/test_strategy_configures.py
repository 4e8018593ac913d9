"""The strategy is the one source of what clients do and of how updates are weighed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mlprocessor.aggregation import strategy_from_name
from protocol.artifacts import decode_artifact
from protocol.plan import StrategySpec, TrainingPlan
from tests.protocol.conftest import build_federation


def test_choosing_fedprox_alone_makes_clients_train_with_its_mu(tmp_path: Path) -> None:
    """As the web form does: only the strategy changes; the published plan follows it."""
    federation = build_federation(tmp_path)
    organization = federation.organization
    organization.settings = replace(organization.settings, strategy=StrategySpec("fedprox", {"mu": 0.3}))
    base = decode_artifact(federation.store.get(organization.initial_model_cid()))
    assert TrainingPlan.from_extra(base.metadata.extra).mu == pytest.approx(0.3)
    organization.settings = replace(organization.settings, strategy=StrategySpec("fedavg"))
    base = decode_artifact(federation.store.get(organization.initial_model_cid()))
    assert TrainingPlan.from_extra(base.metadata.extra).mu == 0.0


@pytest.mark.parametrize(("name", "expected"), [
    ("fedavg", [0.1, 0.2, 0.3, 0.4]),
    ("fedavgm", [0.1, 0.2, 0.3, 0.4]),
    ("median", None),
    ("krum", None),
])
def test_a_rule_knows_its_own_weights(name: str, expected: list[float] | None) -> None:
    weights = strategy_from_name(name).weights([100, 200, 300, 400])
    assert weights == (None if expected is None else pytest.approx(expected))


def test_fedavg_caps_an_inflated_claim() -> None:
    weights = strategy_from_name("fedavg").weights([100, 100, 100, 1_000_000])
    assert weights[3] < 0.5  # the cap at a multiple of the median, not the claim, decides
