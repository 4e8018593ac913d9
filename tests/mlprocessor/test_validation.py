from __future__ import annotations

import numpy as np
import pytest

from mlprocessor.aggregation import ClientUpdate
from mlprocessor.aggregation.weights import capped_weights
from mlprocessor.validation import (
    ValidationConfig,
    base_norm_bound,
    direction_problem,
    duplicate_of,
    fisher_problem,
    history_norm_bound,
    l2_norm,
    validate_updates,
)

SPEC = {"w": ((2, 3), "float32"), "b": ((3,), "float32")}


def _update(scale: float = 1.0, samples: int = 10, client: str = "") -> ClientUpdate:
    return ClientUpdate({"w": np.full((2, 3), scale, np.float32), "b": np.full(3, scale, np.float32)},
                        samples, client)


def test_each_bad_case_rejected_with_reason_and_order_kept() -> None:
    nan = _update(client="nan")
    nan.delta["b"][1] = np.nan
    updates = [
        _update(1.0, client="ok1"),
        ClientUpdate({"w": np.zeros((2, 3), np.float32)}, 10, "missing"),
        ClientUpdate({"w": np.zeros((3, 2), np.float32), "b": np.zeros(3, np.float32)}, 10, "shape"),
        ClientUpdate({"w": np.zeros((2, 3), np.float64), "b": np.zeros(3, np.float32)}, 10, "dtype"),
        nan,
        _update(1.1, client="ok2"),
        _update(100.0, client="huge"),
        _update(1.0, samples=0, client="zero"),
        _update(1.0, samples=10**9, client="many"),
        _update(0.9, client="ok3"),
    ]
    report = validate_updates(updates, SPEC, ValidationConfig(norm_factor=10, max_samples=10_000))
    assert [u.client for u in report.accepted] == ["ok1", "ok2", "ok3"]
    reasons = {r.update.client: r.reason for r in report.rejected}
    assert [r.index for r in report.rejected] == [1, 2, 3, 4, 6, 7, 8]
    assert "missing tensors ['b']" in reasons["missing"]
    assert "architecture mismatch: w" in reasons["shape"] and "float64" in reasons["dtype"]
    assert "non-finite" in reasons["nan"]
    assert "median" in reasons["huge"]
    assert "sample count 0" in reasons["zero"] and "sample count 1000000000" in reasons["many"]


def test_norm_bound_can_be_disabled() -> None:
    report = validate_updates([_update(1.0), _update(1000.0)], SPEC, ValidationConfig(norm_factor=None))
    assert len(report.accepted) == 2 and not report.rejected


def test_capped_weights_bound_a_claim_by_the_median() -> None:
    np.testing.assert_array_equal(capped_weights([100, 120, 90, 1_000_000]), [100, 120, 90, 220])
    np.testing.assert_array_equal(capped_weights([100, 120, 90, 1_000_000], None), [100, 120, 90, 1_000_000])
    with pytest.raises(ValueError, match="at least 1"):
        capped_weights([1, 2], 0.5)


def test_base_bound_holds_against_a_large_norm_majority() -> None:
    updates = [_update(1000.0), _update(1000.0), _update(1000.0), _update(1.0), _update(1.1)]
    bound = base_norm_bound(10.0, ValidationConfig())  # 0.5 x the base's norm: 5
    report = validate_updates(updates, SPEC, bound=bound)
    assert [r.index for r in report.rejected] == [0, 1, 2]
    assert "0.5 x the base model's norm 10" in report.rejected[0].reason


def test_history_bound_applies_only_when_most_updates_fit() -> None:
    history = history_norm_bound(1.0, ValidationConfig())  # 2 x the previous median: 2
    norm = l2_norm(_update(1.0).delta)
    small, big = _update(1.0 / norm), _update(3.0 / norm)  # norms 1 and 3
    mostly_small = validate_updates([small, small, big], SPEC, ValidationConfig(norm_factor=None), history=history)
    assert [r.index for r in mostly_small.rejected] == [2] and "previous round" in mostly_small.rejected[0].reason
    all_big = validate_updates([big, big, big], SPEC, ValidationConfig(norm_factor=None), history=history)
    assert not all_big.rejected  # a new task: the fixed base bound still holds, the round is not stuck


@pytest.mark.parametrize("value, words", [(-1e4, "negative"), (np.inf, "non-finite"), (1e3, "above the limit")])
def test_fisher_sections_are_checked(value: float, words: str) -> None:
    fisher = {"w": np.full((2, 3), 0.1, np.float32), "b": np.full(3, value, np.float32)}
    assert words in fisher_problem(fisher, SPEC, 100.0)
    assert fisher_problem({"w": fisher["w"], "b": np.zeros(3, np.float32)}, SPEC, 100.0) is None
    assert "does not have" in fisher_problem({"w": fisher["w"]}, SPEC, 100.0)


def test_duplicates_name_the_first_submission() -> None:
    cids = ["QmA", "QmB", "QmA", "QmA"]
    assert [duplicate_of(cids, i) for i in range(4)] == [None, None, "duplicate of update 0", "duplicate of update 0"]


def test_updates_without_training_are_rejected_as_free_riding_for_any_tensor_spec() -> None:
    base = {"w": np.full((2, 3), 0.5, np.float32), "b": np.full(3, -0.25, np.float32)}
    copy = ClientUpdate({k: v.copy() for k, v in base.items()}, 10)
    zero = _update(0.0)
    config = ValidationConfig(base_norm_fraction=None)
    report = validate_updates([_update(0.01), zero, copy, _update(0.012)], SPEC, config, base=base)
    assert [r.index for r in report.rejected] == [1, 2]
    assert report.rejected[0].reason == "free-riding: the update is all zeros (no training)"
    assert report.rejected[1].reason.startswith("free-riding: the update is a copy of the base model")


def test_an_update_against_the_root_direction_is_refused_with_its_cosine() -> None:
    reference = {"w": np.array([1.0, 0.0, 0.0]), "b": np.array([0.0])}
    against = {"w": np.array([-2.0, 0.5, 0.0]), "b": np.array([0.0])}
    assert direction_problem(against, reference, -0.1) == (
        "points against the descent direction on the organization's root data: cosine -0.970, below -0.1")
    slightly_off = {"w": np.array([-0.05, 1.0, 0.0]), "b": np.array([0.0])}  # skewed data strays a little
    assert direction_problem(slightly_off, reference, -0.1) is None
    assert direction_problem({"w": np.zeros(3), "b": np.zeros(1)}, reference, -0.1) is None
