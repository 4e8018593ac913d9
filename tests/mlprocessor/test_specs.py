"""A tensor spec published in someone else's model file is bounded before anything is allocated."""

from __future__ import annotations

import json
import re

import pytest

from mlprocessor.specs import MAX_ELEMENTS, MAX_TENSORS, SpecError, spec_from_json, spec_to_json

GOOD = {"fc.weight": ((10, 784), "float32"), "fc.bias": ((10,), "float32")}


def test_a_spec_round_trips_in_order() -> None:
    assert list(spec_from_json(spec_to_json(GOOD)).items()) == list(GOOD.items())


@pytest.mark.parametrize(("text", "why"), [
    ("not json", "not valid JSON"),
    ("[]", "1 to"),
    (json.dumps([["a", [2], "float32"]] * 2), "invalid or repeated"),
    (json.dumps([["a", [2], "int64"]]), "is not [name, shape, 'float32']"),
    (json.dumps([["../a", [2], "float32"]]), "invalid or repeated"),
    (json.dumps([["a", [True], "float32"]]), "invalid shape"),
    (json.dumps([["a", [0], "float32"]]), "invalid shape"),
    (json.dumps([["a", [1] * 9, "float32"]]), "invalid shape"),
    (json.dumps([["a", [MAX_ELEMENTS, 2], "float32"]]), "more than"),
    (json.dumps([[f"t{i}", [1], "float32"] for i in range(MAX_TENSORS + 1)]), "1 to"),
    ("x" * (1 << 21), "size limit"),
])
def test_a_crafted_spec_is_refused_with_a_reason(text: str, why: str) -> None:
    with pytest.raises(SpecError, match=re.escape(why)):
        spec_from_json(text)
