"""Aggregation streams: update by update in on-chain order, the same bytes as the rules' in-memory
combination, with memory that does not grow with the number of updates."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from mlprocessor.aggregation import ClientUpdate
from mlprocessor.aggregation.bounds import InfluenceBounds
from protocol.aggregate import (
    SERVER_STATE_PREFIX,
    AcceptedUpdate,
    Aggregate,
    aggregate_round,
    aggregate_state,
    fedcurv_sections,
    result_file,
)
from protocol.artifacts import FISHER, MEDIAN_NORM, Artifact, model_metadata, update_metadata
from protocol.plan import StrategySpec, TrainingPlan
from storage.hashing import cid_of_bytes

SHAPES = {"fc1.weight": (12, 8), "fc1.bias": (12,), "fc2.weight": (3, 12)}
BASE_CID = cid_of_bytes(b"the base")
BOUNDS = InfluenceBounds(clip=1.5, weight_cap=1.2, fisher=2.0)


def _tensors(rng: np.random.Generator, scale: float) -> dict[str, np.ndarray]:
    return {k: (rng.normal(size=shape) * scale).astype(np.float32) for k, shape in SHAPES.items()}


def _round(fedcurv: bool, seed: int = 3) -> tuple[Artifact, list[tuple[str, Artifact]]]:
    """A base with server state and a published median, and updates of varied norms and claims
    (some clipped, one claim capped; one update without a Fisher)."""
    rng = np.random.default_rng(seed)
    extra = {**TrainingPlan(fedcurv_lambda=1.0 if fedcurv else 0.0).to_extra(), MEDIAN_NORM: 0.04}
    state = {SERVER_STATE_PREFIX + name: {k: np.abs(v) for k, v in _tensors(rng, 0.01).items()}
             for name in ("momentum", "adam_m", "adam_v")}
    base = Artifact(_tensors(rng, 1.0), model_metadata("x", 1, 0, None, extra), state)
    updates = []
    for i, (scale, samples) in enumerate(zip((1, 6, 0.3, 1, 2, 1), (40, 55, 38, 9_000, 47, 50), strict=True)):
        sections = {FISHER: {k: np.abs(v) for k, v in _tensors(rng, 1 + i).items()}} if fedcurv and i != 2 else {}
        updates.append((f"client {i}", Artifact(_tensors(rng, 0.01 * scale),
                                                update_metadata("x", 2, samples, BASE_CID), sections)))
    return base, updates


def _in_memory_bytes(base: Artifact, accepted: list[tuple[str, Artifact]], strategy: StrategySpec,
                     fedcurv: bool) -> bytes:
    """The reference: every update held, bounded and combined by the rule in one call."""
    updates = [ClientUpdate(a.tensors, a.metadata.sample_count, c) for c, a in accepted]
    updates = BOUNDS.apply(updates, 0.04)
    state = {k.removeprefix(SERVER_STATE_PREFIX): v for k, v in base.sections.items()}
    tensors, following = strategy.build().aggregate_with_state(base.tensors, updates, state)
    sections = fedcurv_sections(base.tensors, [u.delta for u in updates], [a.section(FISHER) for _, a in accepted],
                                BOUNDS.fisher) if fedcurv else {}
    samples = sum(a.metadata.sample_count for _, a in accepted)
    weighed = tuple(u.sample_count for u in updates)
    return result_file(base, BASE_CID, 2, Aggregate(tensors, following, sections, BOUNDS, samples, weighed),
                       strategy, {})


@pytest.mark.parametrize("name", ["fedavg", "fedprox", "fedavgm", "fedadam", "median"])
@pytest.mark.parametrize("fedcurv", [False, True])
def test_streamed_result_is_the_in_memory_result(name: str, fedcurv: bool) -> None:
    base, accepted = _round(fedcurv)
    strategy = StrategySpec(name, {"mu": 0.01} if name == "fedprox" else {})
    streamed = result_file(base, BASE_CID, 2, aggregate_state(base, accepted, strategy, BOUNDS), strategy, {})
    assert streamed == _in_memory_bytes(base, accepted, strategy, fedcurv)


def test_summation_follows_the_given_order() -> None:
    base, accepted = _round(fedcurv=False)
    strategy = StrategySpec("fedavg")
    forward = aggregate_state(base, accepted, strategy, BOUNDS).tensors
    backward = aggregate_state(base, accepted[::-1], strategy, BOUNDS).tensors
    assert all(np.allclose(forward[k], backward[k], atol=1e-6) for k in forward)
    reads: list[int] = []
    summaries = [AcceptedUpdate(c, a.metadata.sample_count, 0.01) for c, a in accepted]
    aggregate_round(base, summaries, lambda i: reads.append(i) or accepted[i][1], strategy, None)
    assert reads == list(range(len(accepted)))  # each update read once, in on-chain order


@pytest.mark.parametrize("name", ["fedavg", "fedadam"])
def test_memory_does_not_grow_with_the_updates(name: str) -> None:
    """200 updates of a 50,000-parameter model: holding them would take 40 MB (float32); streaming
    holds one update and a few float64 sums and optimizer states (well under a fifth of that)."""
    parameters, count = 50_000, 200
    base = Artifact({"w": np.zeros(parameters, np.float32)}, model_metadata("x", 1, 0, None, {}))

    def read(i: int) -> Artifact:
        delta = np.random.default_rng(i).normal(size=parameters).astype(np.float32) * 0.01
        return Artifact({"w": delta}, update_metadata("x", 2, 50 + i % 7, BASE_CID))

    summaries = [AcceptedUpdate(f"client {i}", 50 + i % 7, float(np.linalg.norm(read(i).tensors["w"])))
                 for i in range(count)]
    tracemalloc.start()
    try:
        aggregate_round(base, summaries, read, StrategySpec(name), BOUNDS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    one_model = 4 * parameters
    assert peak < count * one_model / 5, f"peak {peak / 1e6:.1f} MB for {count} updates of {one_model / 1e6:.1f} MB"
