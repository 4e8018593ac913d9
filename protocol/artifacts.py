"""Models and updates as files: mlprocessor state dicts <-> storage.model_file bytes.

A model file carries the state dict and, for FedCurv, the sums u and v in sections
`fedcurv_u/` and `fedcurv_v/`. An update file carries the change to its base model and,
for FedCurv, the client's Fisher diagonal in section `fisher/`. Metadata names the
architecture, the round, the sample count and, for an update, the CID of its base.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from mlprocessor.specs import StateDict, tensor_spec
from storage import model_file
from storage.cid import Cid
from storage.model_file import ExtraValue, ModelFileError, ModelMetadata

FISHER = "fisher"
FEDCURV_U = "fedcurv_u"
FEDCURV_V = "fedcurv_v"


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


def decode_artifact(data: bytes, architecture: str | None = None) -> Artifact:
    """Decode and check against the architecture's tensor names, shapes and dtypes; without an
    expected architecture, the one the file names (it must be one we know)."""
    if architecture is None:
        architecture = model_file.read_metadata(data).architecture
    try:
        spec = tensor_spec(architecture)
    except ValueError:
        raise UnexpectedArtifactError(f"unknown model architecture {architecture!r}") from None
    flat, metadata = model_file.decode(data, spec)
    if metadata.architecture != architecture:
        raise UnexpectedArtifactError(f"file is for architecture {metadata.architecture!r}, expected {architecture!r}")
    tensors: StateDict = {}
    sections: dict[str, StateDict] = {}
    for name, value in flat.items():
        section, _, inner = name.rpartition("/")
        (sections.setdefault(section, {}) if section else tensors)[inner] = value
    return Artifact(tensors, metadata, sections)


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
