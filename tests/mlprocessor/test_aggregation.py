from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mlprocessor.aggregation import (
    STRATEGY_NAMES,
    ClientUpdate,
    FedAdam,
    FedAvg,
    Krum,
    Median,
    TrimmedMean,
    strategy_from_name,
)

BASE = {"w": np.array([[1.0, 2.0], [3.0, 4.0]], np.float32), "b": np.array([0.5], np.float32)}
SHAPE = 6  # total coordinates in BASE


def _delta(values: np.ndarray) -> dict[str, np.ndarray]:
    flat = np.asarray(values, np.float32)
    return {"w": flat[:4].reshape(2, 2), "b": flat[4:5]}


def _flat(state: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([state["w"].ravel(), state["b"]]).astype(np.float64)


def test_fedavg_hand_computation() -> None:
    a = ClientUpdate(_delta(np.array([1, 0, 0, 2, 4])), 1)
    b = ClientUpdate(_delta(np.array([4, 3, 0, -1, 1])), 2)
    result = FedAvg().aggregate(BASE, [a, b])
    # weights 1/3 and 2/3: (1 + 8)/3 = 3, (0 + 6)/3 = 2, 0, (2 - 2)/3 = 0, (4 + 2)/3 = 2
    np.testing.assert_array_equal(result["w"], np.array([[4, 4], [3, 4]], np.float32))
    np.testing.assert_array_equal(result["b"], np.array([2.5], np.float32))
    assert all(v.dtype == np.float32 for v in result.values())


def test_fedavg_weights_respected() -> None:
    big = ClientUpdate(_delta(np.ones(5)), 999)
    small = ClientUpdate(_delta(np.full(5, 1001.0)), 1)
    np.testing.assert_allclose(FedAvg().aggregate(BASE, [big, small])["b"], [0.5 + 2.0])


finite = st.floats(-10, 10, allow_nan=False, width=32)
deltas = hnp.arrays(np.float32, 5, elements=finite)


@settings(max_examples=50, deadline=None)
@given(delta=deltas, copies=st.integers(1, 6), counts=st.lists(st.integers(1, 10**6), min_size=6, max_size=6),
       name=st.sampled_from(["fedavg", "median", "trimmed-mean"]))
def test_identical_updates_give_that_update(delta: np.ndarray, copies: int, counts: list[int], name: str) -> None:
    updates = [ClientUpdate(_delta(delta), counts[i]) for i in range(copies)]
    expected = (_flat(BASE) + delta[:5].astype(np.float64)).astype(np.float32)
    np.testing.assert_allclose(_flat(strategy_from_name(name).aggregate(BASE, updates)), expected, rtol=1e-6,
                               atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(values=st.lists(deltas, min_size=4, max_size=8), name=st.sampled_from(STRATEGY_NAMES))
def test_same_inputs_same_bytes(values: list[np.ndarray], name: str) -> None:
    updates = [ClientUpdate(_delta(v), i + 1) for i, v in enumerate(values)]
    copies = [ClientUpdate({k: a.copy() for k, a in u.delta.items()}, u.sample_count) for u in updates]
    first = strategy_from_name(name).aggregate(BASE, updates)
    second = strategy_from_name(name).aggregate(BASE, copies)
    assert all(first[k].tobytes() == second[k].tobytes() for k in BASE)


def _honest_and_outliers(
    draw: st.DrawFn, f: int, honest_count: int, spread: float
) -> tuple[list[ClientUpdate], np.ndarray]:
    center = draw(hnp.arrays(np.float64, 5, elements=st.floats(-1, 1)))
    honest = [center + draw(hnp.arrays(np.float64, 5, elements=st.floats(-spread, spread)))
              for _ in range(honest_count)]
    outliers = [draw(hnp.arrays(np.float64, 5, elements=st.floats(-1e6, 1e6)))
                + draw(st.sampled_from([-1e4, 1e4])) for _ in range(f)]
    order = draw(st.permutations(range(honest_count + f)))
    vectors = honest + outliers
    updates = [ClientUpdate(_delta(vectors[i]), draw(st.integers(1, 10**6)), "o" if i >= honest_count else "h")
               for i in order]
    return updates, np.array(honest)


@st.composite
def byzantine_round(draw: st.DrawFn) -> tuple[int, list[ClientUpdate], np.ndarray]:
    f = draw(st.integers(0, 3))
    honest_count = draw(st.integers(f + 3, f + 6))  # n >= 2f + 3, as Krum requires
    updates, honest = _honest_and_outliers(draw, f, honest_count, spread=0.1)
    return f, updates, honest


def _within_honest_range(result: dict[str, np.ndarray], honest: np.ndarray) -> bool:
    delta = _flat(result) - _flat(BASE)
    return bool(np.all(delta >= honest.min(axis=0) - 1e-4) and np.all(delta <= honest.max(axis=0) + 1e-4))


@settings(max_examples=60, deadline=None)
@given(case=byzantine_round())
def test_median_ignores_outliers(case: tuple[int, list[ClientUpdate], np.ndarray]) -> None:
    _, updates, honest = case
    assert _within_honest_range(Median().aggregate(BASE, updates), honest)


@settings(max_examples=60, deadline=None)
@given(case=byzantine_round())
def test_trimmed_mean_ignores_outliers(case: tuple[int, list[ClientUpdate], np.ndarray]) -> None:
    f, updates, honest = case
    beta = (f + 0.5) / len(updates)  # trims at least f from each side
    assert _within_honest_range(TrimmedMean(beta=min(beta, 0.49)).aggregate(BASE, updates), honest)


@settings(max_examples=60, deadline=None)
@given(case=byzantine_round(), m=st.integers(1, 3))
def test_krum_never_picks_an_outlier(case: tuple[int, list[ClientUpdate], np.ndarray], m: int) -> None:
    f, updates, honest = case
    krum = Krum(f=f, m=m)
    assert all(updates[i].client == "h" for i in krum.selected(updates))
    assert _within_honest_range(krum.aggregate(BASE, updates), honest)


def test_registry() -> None:
    prox = strategy_from_name("fedprox", mu=0.1)
    assert isinstance(prox, FedAvg) and prox.client_mu == 0.1 and prox.name == "fedprox"
    assert strategy_from_name("fedavg").client_mu == 0.0
    assert strategy_from_name("trimmed-mean", beta=0.2) == TrimmedMean(0.2)
    assert strategy_from_name("multi-krum", f=1) == Krum(f=1, m=None)
    with pytest.raises(ValueError, match="unknown strategy"):
        strategy_from_name("mean")


def test_rule_preconditions() -> None:
    updates = [ClientUpdate(_delta(np.zeros(5)), 1)] * 3
    with pytest.raises(ValueError, match="at least 4 updates"):
        Krum(f=1).aggregate(BASE, updates)
    with pytest.raises(ValueError, match="beta"):
        TrimmedMean(beta=0.5)
    with pytest.raises(ValueError, match="no updates"):
        FedAvg().aggregate(BASE, [])
    with pytest.raises(ValueError, match="does not match"):
        Median().aggregate(BASE, [ClientUpdate({"w": BASE["w"]}, 1)])


def test_fedadam_follows_reddi_algorithm_2() -> None:
    base = {"w": np.array([1.0, -1.0], np.float32)}
    rule = FedAdam(eta=0.1, beta1=0.9, beta2=0.99, tau=1e-3)
    delta = np.array([0.2, -0.4])
    model, state = rule.aggregate_with_state(base, [ClientUpdate({"w": delta.astype(np.float32)}, 5)], {})
    m, v = 0.1 * delta, 0.01 * delta**2
    np.testing.assert_allclose(model["w"], base["w"] + 0.1 * m / (np.sqrt(v) + 1e-3), rtol=1e-5)
    np.testing.assert_allclose(state["adam_m"]["w"], m, rtol=1e-6)
    np.testing.assert_allclose(state["adam_v"]["w"], v, rtol=1e-6)
    again, _ = rule.aggregate_with_state(base, [ClientUpdate({"w": delta.astype(np.float32)}, 5)], state)
    assert again["w"].tobytes() != model["w"].tobytes()  # the moments carry over
    assert rule.aggregate(base, [ClientUpdate({"w": delta.astype(np.float32)}, 5)])["w"].tobytes() == \
        model["w"].tobytes()  # without a state: its first round
