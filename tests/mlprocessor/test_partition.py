from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlprocessor.partition import partition

LABELS = np.repeat(np.arange(10), 400)  # balanced like mnist-5k's training part


def _assert_disjoint_complete(parts: list[np.ndarray], n: int) -> None:
    joined = np.concatenate(parts)
    assert len(joined) == n and len(np.unique(joined)) == n
    assert all(len(p) > 0 for p in parts)


@settings(max_examples=30, deadline=None)
@given(scheme=st.sampled_from(["iid", "shards", "dirichlet"]), clients=st.integers(1, 40),
       seed=st.integers(0, 2**31), alpha=st.floats(0.01, 100))
def test_disjoint_complete_nonempty(scheme: str, clients: int, seed: int, alpha: float) -> None:
    _assert_disjoint_complete(partition(LABELS, clients, scheme, seed, alpha), len(LABELS))


@pytest.mark.parametrize("scheme", ["iid", "shards", "dirichlet"])
def test_deterministic_from_seed(scheme: str) -> None:
    a, b, c = (partition(LABELS, 10, scheme, seed) for seed in (3, 3, 4))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_iid_sizes_and_labels() -> None:
    parts = partition(LABELS, 10, "iid")
    assert {len(p) for p in parts} == {400}
    assert all(len(np.unique(LABELS[p])) == 10 for p in parts)


def test_shards_two_labels_per_client() -> None:
    parts = partition(LABELS, 10, "shards", seed=7)
    assert {len(p) for p in parts} == {400}
    assert all(len(np.unique(LABELS[p])) <= 2 for p in parts)


def _mean_top_label_share(parts: list[np.ndarray]) -> float:
    return float(np.mean([np.bincount(LABELS[p]).max() / len(p) for p in parts]))


def test_dirichlet_alpha_controls_skew() -> None:
    skewed = _mean_top_label_share(partition(LABELS, 10, "dirichlet", seed=1, alpha=0.1))
    uniform = _mean_top_label_share(partition(LABELS, 10, "dirichlet", seed=1, alpha=100.0))
    assert skewed > 0.5 > 0.2 > uniform


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown partition"):
        partition(LABELS, 2, "zipf")
    with pytest.raises(ValueError, match="cannot be split"):
        partition(LABELS[:5], 3, "shards")
