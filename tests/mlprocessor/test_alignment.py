"""Alignment weighting: noise weighs next to nothing, honest updates keep their weight, results
made before it verify as they were, and the weights follow from public files alone."""

from __future__ import annotations

import numpy as np
import pytest

from mlprocessor.aggregation.alignment import aligned_claims, alignment_factors, cosine, movement
from mlprocessor.aggregation.base import ClientUpdate
from mlprocessor.aggregation.bounds import InfluenceBounds
from protocol.plan import bounds_from_extra, bounds_to_extra

SHAPES = {"fc1.weight": (200, 784), "fc1.bias": (200,), "fc2.weight": (10, 200)}  # the 2NN's size


def _tensors(rng: np.random.Generator, scale: float = 1.0) -> dict[str, np.ndarray]:
    return {k: (rng.normal(size=shape) * scale).astype(np.float32) for k, shape in SHAPES.items()}


def _round(rng: np.random.Generator) -> tuple[dict[str, np.ndarray], list[ClientUpdate]]:
    """The model's last step, seven honest updates that follow it with differences of their own (one
    barely), three of pure noise at twice their size, each claiming the maximum."""
    last = _tensors(rng)
    honest = [{k: (v * weight + 2.0 * rng.normal(size=v.shape)).astype(np.float32) for k, v in last.items()}
              for weight in (1.0, 1.2, 0.8, 1.0, 0.9, 1.1, 0.15)]
    noise = [_tensors(rng, 4.0) for _ in range(3)]
    claims = [300, 250, 280, 300, 260, 300, 290, 10_000, 10_000, 10_000]
    return last, [ClientUpdate(d, n) for d, n in zip(honest + noise, claims, strict=True)]


def test_the_cosine_runs_over_every_tensor_in_name_order_and_is_zero_for_nothing() -> None:
    rng = np.random.default_rng(0)
    a = _tensors(rng)
    b = {k: v + _tensors(rng)[k] for k, v in a.items()}
    flat = [np.concatenate([t[k].astype(np.float64).ravel() for k in sorted(t)]) for t in (a, b)]
    exact = float(flat[0] @ flat[1] / np.linalg.norm(flat[0]) / np.linalg.norm(flat[1]))
    assert cosine(a, b) == pytest.approx(exact, rel=1e-9)
    assert cosine(dict(reversed(list(a.items()))), b) == cosine(a, b)  # the same bits in any order
    assert cosine(a, a) == pytest.approx(1.0)
    assert cosine({k: np.zeros_like(v) for k, v in a.items()}, b) == 0.0


def test_movement_is_base_minus_parent_in_float64() -> None:
    base = {"w": np.array([1.0, 2.0], np.float32)}
    parent = {"w": np.array([0.5, 2.5], np.float32)}
    moved = movement(base, parent)
    assert moved["w"].dtype == np.float64 and moved["w"].tolist() == [0.5, -0.5]


def test_noise_weighs_next_to_nothing_and_honest_updates_keep_their_weight() -> None:
    last, updates = _round(np.random.default_rng(1))
    bounded = InfluenceBounds(alignment=0.25).apply(updates, None, last)
    claims = [u.sample_count for u in bounded]
    median_claim = int(np.median([u.sample_count for u in updates]))
    assert claims[:6] == [min(u.sample_count, median_claim) for u in updates[:6]]  # whole, after the cap
    assert 1 <= claims[6] < median_claim  # the one that barely follows keeps part of its weight
    assert all(n < median_claim / 10 for n in claims[7:])  # noise: next to nothing, whatever it claims


def test_a_reversed_update_weighs_nothing() -> None:
    last, updates = _round(np.random.default_rng(5))
    flipped = ClientUpdate({k: -v for k, v in updates[0].delta.items()}, updates[0].sample_count)
    bounded = InfluenceBounds().apply([*updates[:7], flipped], None, last)
    assert bounded[-1].sample_count == 1 and bounded[0].sample_count > 1


def test_without_a_last_movement_only_the_cap_applies() -> None:
    _, updates = _round(np.random.default_rng(2))
    bounded = InfluenceBounds().apply(updates, None)
    median_claim = int(np.median([u.sample_count for u in updates]))
    assert [u.sample_count for u in bounded] == [min(u.sample_count, median_claim) for u in updates]


def test_a_round_with_no_common_direction_keeps_every_weight() -> None:
    assert alignment_factors([0.3, -0.2, -0.4, 0.1], 0.5) == [1.0] * 4
    assert alignment_factors([0.4, 0.2, 0.05, -0.1], 0.5) == [1.0, 1.0, pytest.approx(0.05 / 0.0625), 0.0]


def test_a_weight_never_falls_below_one_sample() -> None:
    assert aligned_claims([300, 40, 7], [0.0, 0.5, 1.0]) == [1, 20, 7]


def test_alignment_is_recorded_and_results_made_before_it_read_as_off() -> None:
    bounds = InfluenceBounds()
    assert bounds.alignment > 0
    assert bounds_from_extra(bounds_to_extra(bounds)) == bounds
    before = {k: v for k, v in bounds_to_extra(bounds).items() if k not in ("bounds.alignment", "bounds.trajectory")}
    assert bounds_from_extra(before) == InfluenceBounds(alignment=0.0)
    assert bounds_to_extra(InfluenceBounds(alignment=0.0)).keys() == before.keys()  # the bytes of old results
    with pytest.raises(ValueError, match="alignment in"):
        InfluenceBounds(alignment=1.5)
    with pytest.raises(ValueError, match="trajectory"):
        InfluenceBounds(trajectory=0)
    assert bounds_from_extra({**bounds_to_extra(bounds), "bounds.trajectory": 5.0}).trajectory == 5
    with pytest.raises(ValueError, match="whole number"):
        bounds_from_extra({**bounds_to_extra(bounds), "bounds.trajectory": 2.5})
