from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mlprocessor.data import Dataset
from mlprocessor.evaluation import evaluate
from mlprocessor.ewc import EwcMemory, EwcState, fedcurv_penalty, fedcurv_totals, fisher_diagonal
from mlprocessor.models import build_model, initial_state, model_from_state
from mlprocessor.training import TrainConfig, train_local


def _params(state: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.tensor(v, requires_grad=True) for k, v in state.items()}


def _random_state(seed: int, like: dict[str, np.ndarray], scale: float = 1.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: (scale * rng.random(v.shape)).astype(np.float32) for k, v in like.items()}


@pytest.mark.parametrize("mode", ["sampled", "true"])
def test_fisher_matches_per_sample_loop(small_train: Dataset, mode: str) -> None:
    model = build_model("2nn", seed=1)
    data = small_train.subset(np.arange(6))
    fisher = fisher_diagonal(model, data, mode, seed=2)
    if mode == "true":  # with the data labels the expectation is easy to recompute by hand
        x, y = data.tensors()
        expected = {k: torch.zeros_like(p) for k, p in model.named_parameters()}
        for i in range(len(y)):
            model.zero_grad()
            (-torch.nn.functional.cross_entropy(model(x[i:i + 1]), y[i:i + 1])).backward()
            for k, p in model.named_parameters():
                expected[k] += p.grad.square() / len(y)
        for k, v in expected.items():
            np.testing.assert_allclose(fisher[k], v.numpy(), rtol=1e-4, atol=1e-9)
    assert all(v.dtype == np.float32 and (v >= 0).all() for v in fisher.values())
    assert fisher_diagonal(model, data, mode, seed=2)["out.bias"].tobytes() == fisher["out.bias"].tobytes()


def test_ewc_penalty_and_gradient_zero_at_anchor() -> None:
    anchor = initial_state("2nn", seed=3)
    state = EwcState(_random_state(0, anchor), anchor)
    penalty = state.penalty(lam=50.0)
    params = _params(anchor)
    value = penalty(params)
    value.backward()
    assert float(value.detach()) == 0.0 and all(float(p.grad.abs().max()) == 0.0 for p in params.values())
    moved = _params({k: v + 0.1 for k, v in anchor.items()})
    assert float(penalty(moved).detach()) > 0


def test_fedcurv_pulls_toward_the_others_parameters() -> None:
    """If every other client sits at theta*, client k's FedCurv step leaves theta* where it is and
    pulls any other point toward it (the client's own share does not count)."""
    like = initial_state("2nn")
    theta_star = _random_state(1, like)
    own = EwcState(_random_state(2, like), _random_state(3, like))
    others = [EwcState(_random_state(4 + j, like), theta_star) for j in range(2)]
    penalty = fedcurv_penalty(fedcurv_totals([own, *others]), own, lam=10.0)
    at_star = {k: torch.tensor(v) for k, v in theta_star.items()}
    penalty.step(at_star, lr=0.1)
    assert max(float((at_star[k] - torch.tensor(theta_star[k])).abs().max()) for k in like) < 1e-3
    moved = {k: v + 0.5 for k, v in theta_star.items()}
    pulled = {k: torch.tensor(v) for k, v in moved.items()}
    penalty.step(pulled, lr=0.1)
    before = sum(float(np.abs(moved[k] - theta_star[k]).sum()) for k in like)
    after = sum(float((pulled[k] - torch.tensor(theta_star[k])).abs().sum()) for k in like)
    assert after < 0.5 * before


def test_state_persists_and_accumulates(tmp_path: Path) -> None:
    like = initial_state("2nn")
    assert EwcState.load(tmp_path / "ewc") is None
    state = EwcState(_random_state(0, like), _random_state(1, like))
    state.consolidate(_random_state(2, like), _random_state(3, like), decay=0.5)
    expected = 0.5 * _random_state(0, like)["fc1.bias"].astype(np.float64) + _random_state(2, like)["fc1.bias"]
    np.testing.assert_allclose(state.fisher["fc1.bias"], expected, rtol=1e-6)
    state.save(tmp_path / "ewc")
    loaded = EwcState.load(tmp_path / "ewc")
    assert loaded is not None and loaded.consolidations == 2
    for field in ("fisher", "anchor"):
        a, b = getattr(state, field), getattr(loaded, field)
        assert a.keys() == b.keys() and all(a[k].tobytes() == b[k].tobytes() for k in a)
    assert not list((tmp_path / "ewc").glob("*.npz")) and not list((tmp_path / "ewc").glob("*.pkl"))


def test_ewc_keeps_task_a(small_train: Dataset, small_test: Dataset) -> None:
    """Continual learning, task A = digits, task B = the same digits with inverted pixels."""
    invert = lambda d: Dataset(1 - d.x, d.y)  # noqa: E731
    after_a = train_local("2nn", initial_state("2nn"), small_train, TrainConfig(10, 20, 0.1, seed=0)).state
    accuracy_a = evaluate(model_from_state("2nn", after_a), small_test).accuracy
    fisher = fisher_diagonal(model_from_state("2nn", after_a), small_train, "sampled", max_samples=200)
    memory = EwcState(fisher, after_a)
    task_b = TrainConfig(10, 20, 0.05, seed=1)
    plain = train_local("2nn", after_a, invert(small_train), task_b).state
    ewc = train_local("2nn", after_a, invert(small_train), task_b, [memory.penalty(lam=100.0)]).state
    kept_plain = evaluate(model_from_state("2nn", plain), small_test).accuracy
    kept_ewc = evaluate(model_from_state("2nn", ewc), small_test).accuracy
    assert accuracy_a > 0.75
    assert kept_ewc > kept_plain + 0.15, (accuracy_a, kept_plain, kept_ewc)


def test_memory_consolidates_only_what_is_pending_and_keeps_the_anchor_fixed(tmp_path: Path) -> None:
    like = initial_state("2nn")
    memory = EwcMemory.load(tmp_path)
    assert memory.consolidated is None and memory.consolidate(like) == 0  # nothing pending: no-op
    memory.hold(_random_state(0, like), samples=40)
    anchor = _random_state(1, like)
    assert memory.consolidate(anchor) == 40 and memory.pending is None
    assert memory.consolidated.anchor["fc1.weight"].tobytes() == anchor["fc1.weight"].tobytes()
    memory.hold(_random_state(2, like), samples=30)  # a later round: pending changes, anchor and Fisher do not
    assert memory.consolidated.fisher["out.bias"].tobytes() == _random_state(0, like)["out.bias"].tobytes()
    memory.save(tmp_path)
    loaded = EwcMemory.load(tmp_path)
    assert loaded.pending_samples == 30 and loaded.consolidated.consolidations == 1
    assert loaded.pending["out.bias"].tobytes() == _random_state(2, like)["out.bias"].tobytes()
    assert loaded.consolidate(_random_state(3, like), decay=0.5) == 30
    expected = 0.5 * _random_state(0, like)["out.bias"].astype(np.float64) + _random_state(2, like)["out.bias"]
    np.testing.assert_allclose(loaded.consolidated.fisher["out.bias"], expected, rtol=1e-6)
    assert loaded.consolidated.consolidations == 2 and loaded.penalty(0.0) is None
    assert [p.name for p in tmp_path.iterdir()] == [EwcMemory.FILE_NAME]  # one file, no partial left behind
