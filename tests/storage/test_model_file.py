"""Model and update files: exact round trips, and a clear refusal for every kind of bad input."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from storage.model_file import (
    ModelFileError,
    ModelFileTooLargeError,
    ModelMetadata,
    NonFiniteTensorError,
    NotSafetensorsError,
    TensorSpecError,
    decode,
    encode,
    expected_spec,
)

BASE = "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
MODEL = {
    "fc1.weight": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
    "fc1.bias": np.array([0.5, -1.0, 2.0], dtype=np.float32),
}
SPEC = expected_spec(MODEL)
META = ModelMetadata("2nn", "model", round=1, sample_count=0)

names = st.from_regex(r"[a-z][a-z0-9_]{0,5}(\.[a-z0-9_]{1,5}){0,2}", fullmatch=True)
finite = st.floats(-1e6, 1e6, width=32, allow_subnormal=False)
arrays = hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4), elements=finite)
extras = st.dictionaries(
    st.text(max_size=8), st.one_of(st.text(max_size=8), st.integers(-(2**40), 2**40), finite), max_size=3
)


@settings(max_examples=60, deadline=None)
@given(
    tensors=st.dictionaries(names, arrays, min_size=1, max_size=4),
    kind=st.sampled_from(["model", "update"]),
    round_=st.integers(0, 10**6),
    samples=st.integers(0, 10**6),
    extra=extras,
    sections=st.lists(st.sampled_from(["fisher", "fedcurv_u", "fedcurv_v"]), unique=True),
)
def test_round_trip(tensors, kind, round_, samples, extra, sections) -> None:
    metadata = ModelMetadata("cnn", kind, round_, samples, BASE if kind == "update" else None, extra)
    full = dict(tensors)
    full.update({f"{section}/{name}": array * 2 for section in sections for name, array in tensors.items()})
    data = encode(full, metadata)
    decoded, decoded_metadata = decode(data, expected_spec(tensors))
    assert decoded_metadata == metadata
    assert decoded.keys() == full.keys()
    for name, array in full.items():
        np.testing.assert_array_equal(decoded[name], array, strict=True)
    assert encode(full, metadata) == data


@pytest.mark.parametrize(("encoding", "tolerance", "ratio"), [("float16", 1e-3, 0.55), ("int8", 1 / 127, 0.3)])
def test_compressed_updates_decode_to_float32(encoding: str, tolerance: float, ratio: float) -> None:
    rng = np.random.default_rng(0)
    update = {"fc.weight": rng.normal(0, 0.01, (200, 50)).astype(np.float32), "fc.bias": np.zeros(50, np.float32)}
    metadata = ModelMetadata("2nn", "update", 2, 60, BASE, {"loss": 0.25}, encoding=encoding)
    data = encode(update, metadata)
    assert len(data) < ratio * len(encode(update, ModelMetadata("2nn", "update", 2, 60, BASE)))
    decoded, decoded_metadata = decode(data, expected_spec(update))
    assert decoded_metadata == metadata
    for name, array in update.items():
        assert decoded[name].dtype == np.float32
        peak = float(np.abs(array).max()) or 1.0
        np.testing.assert_allclose(decoded[name], array, atol=tolerance * peak, rtol=0)


def test_update_needs_its_base() -> None:
    with pytest.raises(ValueError, match="base_cid"):
        ModelMetadata("2nn", "update", 1, 10)
    with pytest.raises(ValueError, match="CID"):
        ModelMetadata("2nn", "update", 1, 10, base_cid="not-a-cid")


def test_sections_must_mirror_the_model() -> None:
    with pytest.raises(ValueError, match="section 'fisher'"):
        encode({**MODEL, "fisher/fc1.weight": MODEL["fc1.weight"]}, META)


def _torch_save() -> bytes:
    buffer = io.BytesIO()
    torch.save({name: torch.from_numpy(array) for name, array in MODEL.items()}, buffer)
    return buffer.getvalue()


GOOD = encode(MODEL, META)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (pickle.dumps(MODEL), "Python pickle"),  # built, never loaded
        (_torch_save(), "zip archive"),
        (b"", "empty"),
        (bytes(range(64)), "not a safetensors file"),
        (GOOD[:20], "truncated"),
        (GOOD[:-4], "truncated"),
    ],
    ids=["pickle", "torch-save", "empty", "random", "truncated-header", "truncated-data"],
)
def test_not_safetensors(data: bytes, message: str) -> None:
    with pytest.raises(NotSafetensorsError, match=message):
        decode(data, SPEC)


def test_plain_safetensors_without_our_metadata() -> None:
    from safetensors.numpy import save

    with pytest.raises(ModelFileError, match="without 'fedchain' metadata"):
        decode(save(MODEL), SPEC)


@pytest.mark.parametrize(
    ("tensors", "message"),
    [
        ({"fc1.weight": MODEL["fc1.weight"]}, "missing 'fc1.bias', unexpected none"),
        ({**MODEL, "fc2.bias": MODEL["fc1.bias"]}, "missing none, unexpected 'fc2.bias'"),
        ({**MODEL, "fc1.weight": MODEL["fc1.weight"].T.copy()}, r"shape \[4, 3\], expected \[3, 4\]"),
        ({**MODEL, "fc1.bias": np.array([1, 2, 3])}, "stored as I64, expected F32"),
    ],
    ids=["missing", "unexpected", "shape", "dtype"],
)
def test_spec_mismatch(tensors: dict[str, np.ndarray], message: str) -> None:
    with pytest.raises(TensorSpecError, match=message):
        decode(encode(tensors, META), SPEC)


def _with_value(value: float) -> bytes:
    """A file whose bias holds `value`: built by patching bytes, since encode refuses non-finite values."""
    marker = np.array([0.5, -1.0, 2.0], np.float32).tobytes()
    return GOOD.replace(marker, np.array([0.5, value, 2.0], np.float32).tobytes())


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_values(value: float) -> None:
    with pytest.raises(NonFiniteTensorError, match=r"tensor 'fc1\.bias' has 1 NaN or infinite"):
        decode(_with_value(value), SPEC)
    with pytest.raises(ValueError, match=r"'fc1\.bias' has NaN or infinite"):
        encode({**MODEL, "fc1.bias": np.array([value], np.float32)}, META)


def test_oversize_is_refused_before_parsing() -> None:
    with pytest.raises(ModelFileTooLargeError, match=f"{len(GOOD)} bytes, over the limit of 100"):
        decode(GOOD, SPEC, max_bytes=100)
    with pytest.raises(ModelFileTooLargeError):
        decode(b"\0" * 101, SPEC, max_bytes=100)
