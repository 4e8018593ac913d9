"""Models and updates on the wire: safetensors bytes with a small JSON metadata header.

Files come from other parties, so `decode` trusts nothing: it checks the size before parsing,
recognises pickles and torch.save archives (and never unpickles anything), and checks tensor
names, shapes, dtypes and finiteness against what the caller expects. Encoding is deterministic
(same tensors and metadata give the same bytes, hence the same CID), which `run.py verify` needs.

Auxiliary sections (EWC's Fisher information, FedCurv's u and v) travel in the same file as
tensors named `<section>/<name>`; each section has exactly the main tensors' names and shapes.
Updates may be compressed: `float16`, or `int8` with one symmetric scale per tensor.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as load_safetensors
from safetensors.numpy import save as save_safetensors

from storage.cid import Cid

Kind = Literal["model", "update"]
Encoding = Literal["float32", "float16", "int8"]
ExpectedSpec = Mapping[str, tuple[tuple[int, ...], str]]
ExtraValue = str | int | float

FORMAT = "fedchain-model/1"
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
_METADATA_KEY = "fedchain"  # one key: safetensors writes several in random order, breaking determinism
_SECTION_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_SAFETENSORS_DTYPES = {
    "bool": "BOOL",
    "uint8": "U8",
    "int8": "I8",
    "int16": "I16",
    "int32": "I32",
    "int64": "I64",
    "float16": "F16",
    "float32": "F32",
    "float64": "F64",
}
_STORED_FLOAT = {"float32": "F32", "float16": "F16", "int8": "I8"}
_INT8_LIMIT = 127


class ModelFileError(ValueError):
    """The bytes are not an acceptable model or update file; the message says what is wrong."""


class NotSafetensorsError(ModelFileError):
    """The bytes are not a well-formed safetensors file (a pickle, a torch.save archive, truncated...)."""


class ModelFileTooLargeError(ModelFileError):
    """The file exceeds the size limit; it was not parsed."""


class TensorSpecError(ModelFileError):
    """Tensor names, shapes or dtypes differ from what the caller expects."""


class NonFiniteTensorError(ModelFileError):
    """A tensor holds NaN or infinite values."""


@dataclass(frozen=True)
class ModelMetadata:
    """What a file says about itself: which model, which round, and for updates the base it applies to."""

    architecture: str
    kind: Kind
    round: int
    sample_count: int
    base_cid: str | None = None
    extra: dict[str, ExtraValue] = field(default_factory=dict)
    encoding: Encoding = "float32"

    def __post_init__(self) -> None:
        if not isinstance(self.architecture, str) or not self.architecture:
            raise ValueError("architecture must be a non-empty string")
        if self.kind not in get_args(Kind):
            raise ValueError(f"kind must be 'model' or 'update', got {self.kind!r}")
        for name in ("round", "sample_count"):
            value = getattr(self, name)
            if not _is_int(value) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.kind == "update" and self.base_cid is None:
            raise ValueError("an update must name the CID of the base model it applies to (base_cid)")
        if self.base_cid is not None:
            Cid.parse(self.base_cid)
        if self.encoding not in get_args(Encoding):
            raise ValueError(f"encoding must be one of {get_args(Encoding)}, got {self.encoding!r}")
        for key, value in self.extra.items():
            if not isinstance(key, str) or not (isinstance(value, str | float) or _is_int(value)):
                raise ValueError(f"extra[{key!r}] must map a string to a string, int or float, got {value!r}")
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"extra[{key!r}] must be finite, got {value!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def expected_spec(tensors: Mapping[str, np.ndarray]) -> dict[str, tuple[tuple[int, ...], str]]:
    """The spec `decode` checks against, taken from reference tensors such as the base model's."""
    return {name: (tuple(array.shape), np.asarray(array).dtype.name) for name, array in tensors.items()}


def header_spec(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, tuple[tuple[int, ...], str]]:
    """The main tensors' spec as the file's own header states it (float32 tensors), for files whose
    metadata publishes no spec; decoding then still checks sections and values against it."""
    data = bytes(data)
    if len(data) > max_bytes:
        raise ModelFileTooLargeError(f"model file is {len(data)} bytes, over the limit of {max_bytes}")
    header = _read_header(data)
    spec = {}
    for name, entry in header.items():
        try:
            if name == "__metadata__" or _split(name)[0] is not None:
                continue
        except ValueError as error:
            raise TensorSpecError(str(error)) from None
        shape = entry.get("shape") if isinstance(entry, dict) else None
        if not (isinstance(shape, list) and all(_is_int(d) and d >= 0 for d in shape)):
            raise NotSafetensorsError(f"safetensors header entry for {name!r} is malformed")
        spec[name] = (tuple(shape), "float32")
    return spec


def _split(name: str) -> tuple[str | None, str]:
    """`fisher/fc1.weight` -> ("fisher", "fc1.weight"); `fc1.weight` -> (None, "fc1.weight")."""
    if "/" not in name:
        return None, name
    section, _, inner = name.partition("/")
    if not _SECTION_NAME.fullmatch(section) or not inner or "/" in inner:
        raise ValueError(f"tensor name {name!r} is not '<name>' or '<section>/<name>'")
    return section, inner


# ----------------------------------------------------------------------------------------- encode


def encode(tensors: Mapping[str, np.ndarray], metadata: ModelMetadata) -> bytes:
    """Serialize tensors (floats as float32, or compressed per `metadata.encoding`) and metadata."""
    if not tensors:
        raise ValueError("a model file needs at least one tensor")
    arrays = {name: _as_stored_type(name, array) for name, array in tensors.items()}
    sections = _check_sections(arrays)
    scales: dict[str, float] = {}
    stored = {name: _compress(name, array, metadata.encoding, scales) for name, array in arrays.items()}
    header = dict(asdict(metadata), format=FORMAT, sections=sections, scales=scales)
    text = json.dumps(header, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return save_safetensors(stored, metadata={_METADATA_KEY: text})


def _as_stored_type(name: str, array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype.kind == "f":
        array = array.astype(np.float32, copy=False)
        if not np.isfinite(array).all():
            raise ValueError(f"tensor {name!r} has NaN or infinite values")
    elif array.dtype.name not in _SAFETENSORS_DTYPES:
        raise ValueError(f"tensor {name!r} has unsupported dtype {array.dtype}")
    return np.require(array, requirements="C")  # not ascontiguousarray: it turns 0-d into 1-d


def _check_sections(arrays: Mapping[str, np.ndarray]) -> list[str]:
    """Every section must hold exactly the main tensors' names and shapes; returns the section names."""
    main = {name: array.shape for name, array in arrays.items() if _split(name)[0] is None}
    grouped: dict[str, dict[str, tuple[int, ...]]] = {}
    for name, array in arrays.items():
        section, inner = _split(name)
        if section is not None:
            grouped.setdefault(section, {})[inner] = array.shape
    for section, shapes in grouped.items():
        if shapes != main:
            raise ValueError(f"section {section!r} does not have the same tensor names and shapes as the model")
    return sorted(grouped)


def _compress(name: str, array: np.ndarray, encoding: Encoding, scales: dict[str, float]) -> np.ndarray:
    if array.dtype != np.float32 or encoding == "float32":
        return array
    if encoding == "float16":
        half = array.astype(np.float16)
        if not np.isfinite(half).all():
            raise ValueError(f"tensor {name!r} overflows float16")
        return half
    peak = float(np.abs(array).max(initial=0.0))
    scale = float(np.float32(peak / _INT8_LIMIT)) if peak > 0 else 1.0
    scales[name] = scale
    quantized = np.rint(array / np.float32(scale))
    return np.clip(quantized, -_INT8_LIMIT, _INT8_LIMIT).astype(np.int8)


# ----------------------------------------------------------------------------------------- decode


def decode(
    data: bytes, expected: ExpectedSpec, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[dict[str, np.ndarray], ModelMetadata]:
    """Parse and check a model or update file; floats come back as float32 whatever the encoding.

    `expected` maps each tensor name to its (shape, dtype); every auxiliary section must match
    it too. Raises a ModelFileError subclass saying what is wrong; nothing is ever unpickled.
    """
    data = bytes(data)
    if len(data) > max_bytes:
        raise ModelFileTooLargeError(f"model file is {len(data)} bytes, over the limit of {max_bytes}")
    header = _read_header(data)
    metadata, sections, scales = _read_metadata(header.pop("__metadata__", None))
    _check_against_spec(header, expected, sections, metadata.encoding, scales)
    try:
        stored = load_safetensors(data)
    except SafetensorError as error:
        raise NotSafetensorsError(f"malformed safetensors file: {error}") from None
    tensors = {name: _decompress(array, scales.get(name)) for name, array in sorted(stored.items())}
    for name, array in tensors.items():
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            bad = int(array.size - np.isfinite(array).sum())
            raise NonFiniteTensorError(f"tensor {name!r} has {bad} NaN or infinite values of {array.size}")
    return tensors, metadata


def read_metadata(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ModelMetadata:
    """Only the metadata, checked, without loading tensors: tells which architecture to expect."""
    data = bytes(data)
    if len(data) > max_bytes:
        raise ModelFileTooLargeError(f"model file is {len(data)} bytes, over the limit of {max_bytes}")
    metadata, _, _ = _read_metadata(_read_header(data).get("__metadata__"))
    return metadata


def _identify(data: bytes) -> str:
    """A short description of bytes that are not safetensors, for the error message."""
    if len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5:
        return f"a Python pickle (protocol {data[1]}); it was not unpickled"
    if data.startswith(b"PK\x03\x04"):
        return "a zip archive (the format torch.save writes)"
    if not data:
        return "empty"
    return f"unrecognised data starting with {data[:8].hex()}"


def _read_header(data: bytes) -> dict[str, Any]:
    """The safetensors JSON header, after checking the length prefix and that the data is complete."""
    if len(data) < 8 or data[8:9] != b"{":
        raise NotSafetensorsError(f"not a safetensors file: {_identify(data)}")
    header_length = int.from_bytes(data[:8], "little")
    available = len(data) - 8
    if header_length > available:
        raise NotSafetensorsError(
            f"truncated safetensors file: header of {header_length} bytes, only {available} present"
        )
    try:
        header = json.loads(data[8 : 8 + header_length])
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NotSafetensorsError(f"safetensors header is not valid JSON: {error}") from None
    if not isinstance(header, dict):
        raise NotSafetensorsError("safetensors header is not a JSON object")
    ends = [_data_end(name, entry) for name, entry in header.items() if name != "__metadata__"]
    needed, present = max(ends, default=0), available - header_length
    if needed > present:
        raise NotSafetensorsError(f"truncated safetensors file: tensor data needs {needed} bytes, {present} present")
    return header


def _data_end(name: str, entry: Any) -> int:
    offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(x) and x >= 0 for x in offsets)):
        raise NotSafetensorsError(f"safetensors header entry for {name!r} is malformed")
    return offsets[1]


def _read_metadata(raw: Any) -> tuple[ModelMetadata, list[str], dict[str, float]]:
    if not isinstance(raw, dict) or _METADATA_KEY not in raw:
        raise ModelFileError(f"safetensors file without {_METADATA_KEY!r} metadata: not a model file of ours")
    try:
        fields = json.loads(raw[_METADATA_KEY])
        if not isinstance(fields, dict) or fields.pop("format", None) != FORMAT:
            raise ValueError(f"format is not {FORMAT}")
        sections, scales = fields.pop("sections"), fields.pop("scales")
        metadata = ModelMetadata(**fields)
        if not (isinstance(sections, list) and isinstance(scales, dict)):
            raise ValueError("sections must be a list and scales an object")
        for name, scale in scales.items():
            if not isinstance(scale, float) or not math.isfinite(scale) or scale <= 0:
                raise ValueError(f"scale of {name!r} must be a positive finite number")
    except (ValueError, TypeError, KeyError) as error:
        raise ModelFileError(f"invalid model metadata: {error}") from None
    return metadata, sections, scales


def _check_against_spec(
    header: Mapping[str, Any],
    expected: ExpectedSpec,
    sections: list[str],
    encoding: Encoding,
    scales: Mapping[str, float],
) -> None:
    wanted = dict(expected)
    for section in sections:
        wanted.update({f"{section}/{name}": spec for name, spec in expected.items()})
    missing, unexpected = sorted(set(wanted) - set(header)), sorted(set(header) - set(wanted))
    if missing or unexpected:
        raise TensorSpecError(
            f"tensor names differ from the expected model: missing {_few(missing)}, unexpected {_few(unexpected)}"
        )
    for name, (shape, dtype) in wanted.items():
        entry = header[name]
        if entry.get("shape") != list(shape):
            raise TensorSpecError(f"tensor {name!r} has shape {entry.get('shape')}, expected {list(shape)}")
        dtype = np.dtype(dtype).name
        stored = _STORED_FLOAT[encoding] if dtype == "float32" else _SAFETENSORS_DTYPES.get(dtype)
        if entry.get("dtype") != stored:
            raise TensorSpecError(
                f"tensor {name!r} is stored as {entry.get('dtype')}, expected {stored} ({dtype} in {encoding} encoding)"
            )
        if (stored == "I8" and dtype == "float32") != (name in scales):
            raise TensorSpecError(f"tensor {name!r}: int8 scale missing or not expected")


def _few(names: list[str], limit: int = 5) -> str:
    if not names:
        return "none"
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _decompress(array: np.ndarray, scale: float | None) -> np.ndarray:
    if scale is not None:
        return array.astype(np.float32) * np.float32(scale)
    return array.astype(np.float32) if array.dtype == np.float16 else array
