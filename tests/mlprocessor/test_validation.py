from __future__ import annotations

import numpy as np

from mlprocessor.aggregation import ClientUpdate
from mlprocessor.validation import ValidationConfig, validate_updates

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
