"""A masked update on the wire: a safetensors file of uint64 ring elements plus a JSON header.

Tensors carry the model's state-dict names and shapes, dtype uint64. The header names the
architecture, round, base CID, sample count and sender, and the peers it shares pairwise
masks with (its own statement: a survivor masking with another set than the chain's is named).
Decoding trusts nothing: size first, then safetensors (never a pickle), then names, shapes,
dtypes and every header field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as load_safetensors
from safetensors.numpy import save as save_safetensors

from mlprocessor.specs import StateDict, TensorSpec
from storage.cid import Cid
from storage.model_file import ModelFileError

FORMAT = "fedchain-masked-update/1"
_HEADER_KEY = "fedchain"
MAX_PARTICIPANTS = 10_000
MAX_BYTES = 256 * 1024 * 1024


class MaskedFileError(ModelFileError):
    """The bytes are not an acceptable masked update; the message says why."""


@dataclass(frozen=True)
class MaskedUpdate:
    architecture: str
    round_id: int
    base_cid: str
    sample_count: int
    client: str
    peers: tuple[str, ...]  # lower-case addresses of the participants it shares pairwise masks with, sorted
    values: np.ndarray  # flat uint64, in the spec's tensor order
    spec: TensorSpec  # the base model's tensor spec (not stored: every party takes it from the base)


def flatten_state(state: Mapping[str, np.ndarray], spec: TensorSpec) -> np.ndarray:
    """The tensors of a state dict as one float64 vector, in the spec's tensor order."""
    if state.keys() != spec.keys():
        raise ValueError("the tensors do not match the base model's")
    return np.concatenate([np.asarray(state[name], dtype=np.float64).reshape(-1) for name in spec])


def unflatten(flat: np.ndarray, spec: TensorSpec) -> StateDict:
    """A flat vector back into named tensors of the spec's shapes (keeping the dtype)."""
    out: StateDict = {}
    offset = 0
    for name, (shape, _) in spec.items():
        size = int(np.prod(shape))
        out[name] = flat[offset:offset + size].reshape(shape)
        offset += size
    if offset != flat.size:
        raise ValueError(f"{flat.size} values for a model of {offset}")
    return out


def encode_masked(update: MaskedUpdate) -> bytes:
    header = {"format": FORMAT, "architecture": update.architecture, "round": update.round_id,
              "base_cid": update.base_cid, "sample_count": update.sample_count, "client": update.client.lower(),
              "peers": sorted(peer.lower() for peer in update.peers)}
    tensors = {name: np.ascontiguousarray(value, dtype=np.uint64)
               for name, value in unflatten(update.values, update.spec).items()}
    return save_safetensors(tensors, metadata={_HEADER_KEY: json.dumps(header, sort_keys=True,
                                                                        separators=(",", ":"))})


def decode_masked(data: bytes, spec: TensorSpec, architecture: str) -> MaskedUpdate:
    """Parse and check a masked update against the base model's spec and task (`architecture`)."""
    if len(data) > MAX_BYTES:
        raise MaskedFileError(f"masked update of {len(data)} bytes exceeds the limit of {MAX_BYTES}")
    try:
        tensors = load_safetensors(data)
        header = _read_header(data)
    except (SafetensorError, ValueError, UnicodeDecodeError) as error:
        raise MaskedFileError(f"not a masked update file: {error}") from None
    if tensors.keys() != spec.keys():
        raise MaskedFileError("its tensor names are not those of the model")
    for name, (shape, _) in spec.items():
        if tensors[name].shape != shape or tensors[name].dtype != np.uint64:
            raise MaskedFileError(f"tensor {name} is {tensors[name].dtype}{list(tensors[name].shape)}, "
                                  f"expected uint64{list(shape)}")
    if header.get("architecture") != architecture:
        raise MaskedFileError(f"it is for architecture {header.get('architecture')!r}, expected {architecture!r}")
    return MaskedUpdate(architecture, _int(header, "round"), _text(header, "base_cid"),
                        _int(header, "sample_count"), parse_address(_text(header, "client")),
                        _peers(header.get("peers")),
                        np.concatenate([tensors[name].reshape(-1) for name in spec]), spec)


def _read_header(data: bytes) -> dict:
    length = int.from_bytes(data[:8], "little")
    if length > len(data) - 8:
        raise ValueError("truncated header")
    raw = json.loads(data[8:8 + length]).get("__metadata__", {}).get(_HEADER_KEY)
    if not isinstance(raw, str):
        raise ValueError("no fedchain header")
    header = json.loads(raw)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"not in format {FORMAT}")
    return header


def _int(header: dict, key: str) -> int:
    value = header.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MaskedFileError(f"header field {key!r} must be a non-negative integer")
    return value


def _text(header: dict, key: str) -> str:
    value = header.get(key)
    if not isinstance(value, str):
        raise MaskedFileError(f"header field {key!r} must be a string")
    if key == "base_cid":
        try:
            Cid.parse(value)
        except ValueError as error:
            raise MaskedFileError(f"base_cid: {error}") from None
    return value


def parse_address(value: str) -> str:
    """A lower-case 0x address, or MaskedFileError."""
    if len(value) != 42 or not value.startswith("0x"):
        raise MaskedFileError(f"not an address: {value[:50]!r}")
    try:
        bytes.fromhex(value[2:])
    except ValueError:
        raise MaskedFileError(f"not an address: {value!r}") from None
    return value.lower()


def _peers(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_PARTICIPANTS:
        raise MaskedFileError(f"peers must be a list of at most {MAX_PARTICIPANTS} addresses")
    return tuple(sorted(parse_address(str(peer)) for peer in raw))
