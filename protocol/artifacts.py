"""Models and updates as files: mlprocessor state dicts <-> storage.model_file bytes.

A model file carries the state dict and, for FedCurv, the sums u and v in sections
`fedcurv_u/` and `fedcurv_v/`. An update file carries the change to its base model and,
for FedCurv, the client's Fisher diagonal in section `fisher/`. Metadata names the
task (as `architecture`), the round, the sample count and, for an update, the CID of its base.
A model file also publishes its tensor spec (`tensor_spec` in its metadata), so anyone decodes
and checks models and updates of any task without the task's code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from mlprocessor.specs import SpecError, StateDict, TensorSpec, spec_elements, spec_from_json, spec_to_json
from mlprocessor.validation import fisher_problem
from protocol.rejections import REASON_CHARS, REJECTIONS
from storage import model_file
from storage.cid import Cid
from storage.model_file import ExtraValue, ModelFileError, ModelMetadata

FISHER = "fisher"
FEDCURV_U = "fedcurv_u"
FEDCURV_V = "fedcurv_v"
MEDIAN_NORM = "screening.median_norm"  # result metadata: median norm of the round's accepted updates
FEDCURV_U_LIMIT = 1e6  # u sums accepted Fishers (each at most 100, on our models under 1)
SPEC_KEY = "tensor_spec"  # model metadata: the JSON tensor spec every update must match
UPDATE_SIZE_FACTOR = 3  # an update may be this many times the float32 model (delta + Fisher + slack)


class UnexpectedArtifactError(ModelFileError):
    """A well-formed file that is not what the protocol expected here (wrong kind, round or base)."""


@dataclass(frozen=True)
class Artifact:
    """A decoded model or update: main tensors, auxiliary sections and metadata."""

    tensors: StateDict
    metadata: ModelMetadata
    sections: dict[str, StateDict] = field(default_factory=dict)

    def section(self, name: str) -> StateDict | None:
        return self.sections.get(name)


def encode_artifact(tensors: Mapping[str, np.ndarray], metadata: ModelMetadata,
                    sections: Mapping[str, Mapping[str, np.ndarray]] | None = None) -> bytes:
    flat = dict(tensors)
    for section, values in (sections or {}).items():
        flat.update({f"{section}/{name}": value for name, value in values.items()})
    return model_file.encode(flat, metadata)


def decode_artifact(data: bytes, spec: TensorSpec | None = None) -> Artifact:
    """Decode and check against `spec`; without one, against the spec the file publishes in its
    metadata (a model's), or, for model files published before specs travelled, the file's own
    tensors (their CID is pinned on-chain by whoever published them)."""
    if spec is None:
        metadata = model_file.read_metadata(data)
        spec = published_spec(metadata) or model_file.header_spec(data)
    flat, metadata = model_file.decode(data, spec)
    tensors: StateDict = {}
    sections: dict[str, StateDict] = {}
    for name, value in flat.items():
        section, _, inner = name.rpartition("/")
        (sections.setdefault(section, {}) if section else tensors)[inner] = value
    return Artifact(tensors, metadata, sections)


def published_spec(metadata: ModelMetadata) -> dict[str, tuple[tuple[int, ...], str]] | None:
    """The tensor spec a model file publishes, bounded and checked; None when it publishes none."""
    text = metadata.extra.get(SPEC_KEY)
    if text is None:
        return None
    try:
        return spec_from_json(str(text))
    except SpecError as error:
        raise UnexpectedArtifactError(f"the model file's tensor spec is unusable: {error}") from None


def spec_extra(spec: TensorSpec) -> dict[str, ExtraValue]:
    return {SPEC_KEY: spec_to_json(spec)}


def max_update_bytes(spec: TensorSpec) -> int:
    """The size cap for an update (or a model) of this spec, checked before anything is parsed."""
    return UPDATE_SIZE_FACTOR * 4 * spec_elements(spec) + 64 * 1024


def model_metadata(architecture: str, round_id: int, sample_count: int, base_cid: Cid | None,
                   extra: Mapping[str, ExtraValue]) -> ModelMetadata:
    return ModelMetadata(architecture=architecture, kind="model", round=round_id, sample_count=sample_count,
                         base_cid=str(base_cid) if base_cid else None, extra=dict(extra))


def update_metadata(architecture: str, round_id: int, sample_count: int, base_cid: Cid,
                    encoding: model_file.Encoding = "float32") -> ModelMetadata:
    return ModelMetadata(architecture=architecture, kind="update", round=round_id, sample_count=sample_count,
                         base_cid=str(base_cid), encoding=encoding)


def expect_update_for(artifact: Artifact, round_id: int, base_cid: Cid, sample_count: int) -> None:
    """Raise UnexpectedArtifactError unless this is an update of `round_id` on `base_cid` as recorded on-chain."""
    metadata = artifact.metadata
    problems = []
    if metadata.kind != "update":
        problems.append(f"it is a {metadata.kind}, not an update")
    if metadata.round != round_id:
        problems.append(f"it is for round {metadata.round}, not {round_id}")
    if metadata.base_cid != str(base_cid):
        problems.append(f"it applies to base {metadata.base_cid}, not {base_cid}")
    if metadata.sample_count != sample_count:
        problems.append(f"it claims {metadata.sample_count} samples, the chain records {sample_count}")
    if problems:
        raise UnexpectedArtifactError("; ".join(problems))


def screening_extra(rejections: Mapping[int, str], median_norm: float | None) -> dict[str, ExtraValue]:
    """What a result publishes about its round's screening: why updates were rejected (readable
    from chain and IPFS alone) and the accepted median norm that anchors the next round's bound."""
    reasons = {str(index): reason[:REASON_CHARS] for index, reason in sorted(rejections.items())}
    extra: dict[str, ExtraValue] = {REJECTIONS: json.dumps(reasons, sort_keys=True)}
    if median_norm is not None:
        extra[MEDIAN_NORM] = round(float(median_norm), 6)
    return extra


def published_median_norm(metadata: ModelMetadata) -> float | None:
    value = metadata.extra.get(MEDIAN_NORM)
    return float(value) if isinstance(value, int | float) and value > 0 else None


def fedcurv_problem(base: Artifact) -> str | None:
    """Why a base model's FedCurv sections cannot be trained against (a client then refuses the
    base with this reason instead of crashing on NaNs), or None. No sections is usable: no penalty."""
    u, v = base.section(FEDCURV_U), base.section(FEDCURV_V)
    if (u is None) != (v is None):
        return "the base carries only one of the FedCurv sections u and v"
    if u is None or v is None:
        return None
    spec = model_file.expected_spec(base.tensors)
    return fisher_problem(u, spec, FEDCURV_U_LIMIT, "FedCurv section u") or next(
        (f"FedCurv section v {name} has non-finite values" for name, value in v.items()
         if not np.isfinite(value).all()), None)

