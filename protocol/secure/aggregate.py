"""A secure round's result: the base plus the unmasked average, as a deterministic model file.

Weights are the sample counts as claimed on-chain (each capped by the round's maxSamples): plain
FedAvg's cap at twice the round's median claim needs every claim before anyone encodes its update,
which masking clients do not have.

The organization builds it to finalize and `verify` rebuilds it from public data; the same
masked updates, participants and reveals give the same bytes and therefore the same CID.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mlprocessor.specs import StateDict
from protocol.artifacts import Artifact, encode_artifact, model_metadata
from protocol.plan import StrategySpec
from protocol.secure.masked_file import MaskedUpdate, unflatten
from protocol.secure.shares import ShareBundle, ShareReveal
from protocol.secure.unmask import MaskingSet, Unmasked, unmask_average
from storage import model_file
from storage.cid import Cid
from storage.model_file import ExtraValue

SECURE_MARKER = "secure_aggregation"
SECURE_STRATEGIES = ("fedavg", "fedprox")


def secure_state(base: Artifact, updates: Sequence[MaskedUpdate], setup: MaskingSet,
                 bundles: Mapping[str, ShareBundle], reveals: Sequence[ShareReveal]) -> tuple[StateDict, Unmasked]:
    """theta_base + sum_k n_k delta_k / sum_k n_k over the survivors, float32, and the unmasked
    average (flat) with the shares set aside."""
    unmasked = unmask_average(updates, setup, bundles, reveals)
    average = unflatten(unmasked.average, model_file.expected_spec(base.tensors))
    state = {name: (np.asarray(base.tensors[name], dtype=np.float64) + average[name]).astype(np.float32)
             for name in base.tensors}
    return state, unmasked


def secure_result_file(base: Artifact, base_cid: Cid, round_id: int, state: StateDict, total_samples: int,
                       strategy: StrategySpec, extra: Mapping[str, ExtraValue]) -> bytes:
    """The published result; `extra` carries the plan and the organization's metrics."""
    if strategy.name not in SECURE_STRATEGIES:
        raise ValueError(f"{strategy.name} cannot run on masked updates; secure aggregation supports "
                         f"{' and '.join(SECURE_STRATEGIES)}")
    metadata = model_metadata(base.metadata.architecture, round_id, total_samples, base_cid,
                              {**extra, **strategy.to_extra(), SECURE_MARKER: 1})
    return encode_artifact(state, metadata)
