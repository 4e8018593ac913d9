from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from chain.paths import REPO_ROOT
from mlprocessor.data import Dataset
from mlprocessor.evaluation import evaluate
from mlprocessor.models import initial_state, model_from_state
from mlprocessor.task_registry import get_task
from mlprocessor.training import QuadraticPenalty, TrainConfig, proximal_penalty, train_local

CONFIG = TrainConfig(epochs=2, batch_size=20, lr=0.1, seed=3)


def test_training_lowers_loss_and_reports_stats(small_train: Dataset) -> None:
    base = initial_state("2nn")
    result = train_local("2nn", base, small_train, CONFIG)
    before = evaluate(model_from_state("2nn", base), small_train).loss
    after = evaluate(model_from_state("2nn", result.state), small_train).loss
    assert after < 0.9 * before
    assert result.stats.samples == len(small_train) and result.stats.steps == 2 * 20
    assert result.stats.seconds > 0 and np.isfinite(result.stats.loss)
    delta = result.delta(base)
    assert all(np.allclose(base[k] + delta[k], result.state[k], atol=1e-6) for k in base)


def test_deterministic_given_seed(small_train: Dataset) -> None:
    base = initial_state("2nn")
    a, b = (train_local("2nn", base, small_train, CONFIG).state for _ in range(2))
    c = train_local("2nn", base, small_train, TrainConfig(epochs=2, batch_size=20, lr=0.1, seed=4)).state
    assert all(a[k].tobytes() == b[k].tobytes() for k in a)
    assert any(a[k].tobytes() != c[k].tobytes() for k in a)


def test_fedprox_keeps_client_closer_to_base(small_train: Dataset) -> None:
    base = initial_state("2nn")
    plain = train_local("2nn", base, small_train, CONFIG).delta(base)
    prox = train_local("2nn", base, small_train, TrainConfig(2, 20, 0.1, mu=1.0, seed=3)).delta(base)
    norm = lambda d: np.sqrt(sum(np.square(v).sum() for v in d.values()))  # noqa: E731
    assert norm(prox) < 0.8 * norm(plain)


def test_proximal_penalty_value() -> None:
    import torch

    base = {"w": np.array([1.0, 2.0], np.float32)}
    penalty = proximal_penalty(base, mu=0.5)
    assert float(penalty({"w": torch.tensor([2.0, 0.0])})) == 0.5 / 2 * (1 + 4)


def test_proximal_step_is_the_closed_form() -> None:
    import torch

    anchor = {"w": np.array([1.0, -2.0, 0.5], np.float32)}
    fisher = {"w": np.array([0.0, 3.0, 1e6], np.float32)}
    params = {"w": torch.tensor([4.0, 0.0, -1.0])}
    QuadraticPenalty(anchor, 10.0, fisher).step(params, lr=0.1)
    expected = (np.array([4.0, 0.0, -1.0]) + 0.1 * 10 * fisher["w"] * anchor["w"]) / (1 + 0.1 * 10 * fisher["w"])
    np.testing.assert_allclose(params["w"].numpy(), expected, rtol=1e-6)
    assert params["w"][0] == 4.0 and abs(float(params["w"][2]) - 0.5) < 1e-5  # no weight: free; huge: at the anchor


def test_huge_ewc_lambda_stays_finite_and_at_the_anchor(small_train: Dataset) -> None:
    """lr x lambda x F far above 2, where an explicit penalty gradient diverges."""
    base = initial_state("2nn", seed=5)
    anchor = train_local("2nn", base, small_train, TrainConfig(1, 20, 0.1, seed=1)).state
    fisher = {k: np.full_like(v, 0.5) for k, v in anchor.items()}
    for lam in (1e4, 1e6):
        trained = train_local("2nn", anchor, small_train, TrainConfig(2, 20, 0.1, seed=2),
                              [QuadraticPenalty(anchor, lam, fisher)]).state
        assert all(np.isfinite(v).all() for v in trained.values())
        drift = max(float(np.abs(trained[k] - anchor[k]).max()) for k in anchor)
        assert drift < 0.05 if lam == 1e4 else drift < 1e-3, (lam, drift)
    free = train_local("2nn", anchor, small_train, TrainConfig(2, 20, 0.1, seed=2)).state
    assert max(float(np.abs(free[k] - anchor[k]).max()) for k in anchor) > 0.1


def test_huge_fedprox_mu_stays_at_the_base(small_train: Dataset) -> None:
    base = initial_state("2nn", seed=6)
    trained = train_local("2nn", base, small_train, TrainConfig(1, 20, 0.1, mu=1e5, seed=2)).state
    assert all(np.isfinite(v).all() for v in trained.values())
    assert max(float(np.abs(trained[k] - base[k]).max()) for k in base) < 1e-2


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_local_sgd_gives_torch_sgds_bits(small_train: Dataset, monkeypatch: pytest.MonkeyPatch,
                                          momentum: float) -> None:
    base = initial_state("2nn")
    config = TrainConfig(epochs=2, batch_size=20, lr=0.1, seed=3, momentum=momentum)
    ours = train_local("2nn", base, small_train, config).state
    task = type(get_task("2nn"))
    monkeypatch.setattr(task, "optimizer", lambda self, params, lr, m: torch.optim.SGD(params, lr=lr, momentum=m))
    theirs = train_local("2nn", base, small_train, config).state
    assert all(ours[k].tobytes() == theirs[k].tobytes() for k in ours)


def test_training_does_not_import_torch_dynamo() -> None:
    """torch.optim's import of torch._dynamo cost every client process 1.3-1.5 s before its first round."""
    script = ("import sys; from mlprocessor.models import initial_state; from mlprocessor.training import "
              "TrainConfig, train_local; from mlprocessor.data import Dataset; import numpy as np; "
              "data = Dataset(np.zeros((20, 784), np.float32), np.arange(20) % 10); "
              "train_local('2nn', initial_state('2nn'), data, TrainConfig(1, 10, 0.1, seed=0, momentum=0.5)); "
              "print('torch._dynamo' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.strip() == "False"
