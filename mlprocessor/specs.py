"""The interchange format and the tensor layout of each architecture, without importing torch.

Checking a model file or recomputing an aggregate (`run.py verify`) needs names and shapes only;
tests/mlprocessor/test_models.py checks this table against the torch modules themselves.
"""

from __future__ import annotations

import numpy as np

StateDict = dict[str, np.ndarray]
"""The interchange format: float32 arrays keyed by torch ``state_dict`` names."""

_SHAPES: dict[str, dict[str, tuple[int, ...]]] = {
    "2nn": {"fc1.weight": (200, 784), "fc1.bias": (200,), "fc2.weight": (200, 200), "fc2.bias": (200,),
            "out.weight": (10, 200), "out.bias": (10,)},
    "cnn": {"conv1.weight": (32, 1, 5, 5), "conv1.bias": (32,), "conv2.weight": (64, 32, 5, 5), "conv2.bias": (64,),
            "fc1.weight": (512, 7 * 7 * 64), "fc1.bias": (512,), "out.weight": (10, 512), "out.bias": (10,)},
}


def tensor_spec(name: str) -> dict[str, tuple[tuple[int, ...], str]]:
    """Tensor name -> (shape, dtype) of an architecture, for checking serialized models and updates."""
    if name not in _SHAPES:
        raise ValueError(f"unknown model {name!r}; expected one of {', '.join(_SHAPES)}")
    return {key: (shape, "float32") for key, shape in _SHAPES[name].items()}
