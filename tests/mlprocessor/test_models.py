from __future__ import annotations

import numpy as np
import pytest
import torch

from mlprocessor.models import (
    build_model,
    initial_state,
    load_numpy_state,
    parameter_count,
    state_to_numpy,
)
from mlprocessor.task_registry import get_task


@pytest.mark.parametrize(("name", "count"), [("2nn", 199_210), ("cnn", 1_663_370)])
def test_parameter_counts(name: str, count: int) -> None:
    assert parameter_count(name) == count
    assert sum(p.numel() for p in build_model(name).parameters()) == count


@pytest.mark.parametrize("name", ["2nn", "cnn"])
def test_forward_shape_and_spec(name: str) -> None:
    model = build_model(name)
    assert model(torch.zeros(3, 784)).shape == (3, 10)
    spec = get_task(name).tensor_spec()
    assert spec == {k: (tuple(v.shape), "float32") for k, v in model.state_dict().items()}


def test_seeded_init_and_state_round_trip() -> None:
    torch.manual_seed(123)
    before = torch.rand(1)
    a, b, c = initial_state("2nn", 5), initial_state("2nn", 5), initial_state("2nn", 6)
    torch.manual_seed(123)
    assert torch.equal(before, torch.rand(1)), "building a model must not disturb the global RNG"
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["fc1.weight"], c["fc1.weight"])
    restored = state_to_numpy(load_numpy_state(build_model("2nn", 9), a))
    assert all(restored[k].dtype == np.float32 and np.array_equal(restored[k], a[k]) for k in a)


def test_unknown_model() -> None:
    with pytest.raises(ValueError, match="not installed here"):
        build_model("resnet")
