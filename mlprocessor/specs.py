"""The interchange format and tensor specs, without importing torch.

A tensor spec (names, shapes, dtypes of a model's state) travels as JSON in the base model's
metadata, so that checking a model file, screening, masking and recomputing an aggregate
(`run.py verify`) work for any task without importing it. The JSON comes from other parties:
`spec_from_json` bounds everything before anything is allocated.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping

import numpy as np

StateDict = dict[str, np.ndarray]
"""The interchange format: float32 arrays keyed by torch ``state_dict`` names."""

TensorSpec = Mapping[str, tuple[tuple[int, ...], str]]
"""Tensor name -> (shape, dtype)."""

MAX_TENSORS = 4096
MAX_DIMS = 8
MAX_ELEMENTS = 1 << 28  # 1 GiB of float32 in one model: far above any task of ours, far below harm
MAX_SPEC_CHARS = 1 << 20
_TENSOR_NAME = re.compile(r"[A-Za-z0-9_.-]{1,200}")
_DTYPES = ("float32",)


class SpecError(ValueError):
    """A tensor spec that is malformed or beyond the bounds above."""


def spec_to_json(spec: TensorSpec) -> str:
    """Deterministic JSON: a list of [name, shape, dtype] in the spec's order."""
    return json.dumps([[name, list(shape), dtype] for name, (shape, dtype) in spec.items()], separators=(",", ":"))


def spec_from_json(text: str) -> dict[str, tuple[tuple[int, ...], str]]:
    """Parse and bound a spec published by someone else; raises SpecError saying what is wrong."""
    if not isinstance(text, str) or len(text) > MAX_SPEC_CHARS:
        raise SpecError("tensor spec missing or over the size limit")
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as error:
        raise SpecError(f"tensor spec is not valid JSON: {error}") from None
    if not isinstance(entries, list) or not 0 < len(entries) <= MAX_TENSORS:
        raise SpecError(f"tensor spec must list 1 to {MAX_TENSORS} tensors")
    spec: dict[str, tuple[tuple[int, ...], str]] = {}
    total = 0
    for entry in entries:
        if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)
                and isinstance(entry[1], list) and entry[2] in _DTYPES):
            raise SpecError(f"tensor spec entry {str(entry)[:80]!r} is not [name, shape, 'float32']")
        name, shape = entry[0], entry[1]
        if not _TENSOR_NAME.fullmatch(name) or name in spec:
            raise SpecError(f"tensor spec name {name[:80]!r} is invalid or repeated")
        if len(shape) > MAX_DIMS or not all(isinstance(d, int) and not isinstance(d, bool) and 0 < d <= MAX_ELEMENTS
                                            for d in shape):
            raise SpecError(f"tensor {name!r} has an invalid shape {str(shape)[:80]}")
        total += math.prod(shape)
        if total > MAX_ELEMENTS:
            raise SpecError(f"tensor spec describes more than {MAX_ELEMENTS} values")
        spec[name] = (tuple(shape), entry[2])
    return spec


def spec_elements(spec: TensorSpec) -> int:
    return sum(math.prod(shape) for shape, _ in spec.values())

