"""Turn a round's base model and accepted update files into the next model file, deterministically.

The organization calls this to finalize a round and `verify` calls it to check one: the same
inputs, in the on-chain submission order, give the same bytes and so the same CID. A server
optimizer's state (FedAvgM's momentum, FedAdam's moments) travels in the result file as sections
`server.<name>/`, and the next round reads it from its base: the chain and IPFS alone still
determine every round. The influence bounds (mlprocessor/aggregation/bounds.py) a result was made
under are recorded in it (`bounds.*`), so old results, made without, recompute as they were.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from mlprocessor.aggregation import ClientUpdate
from mlprocessor.aggregation.bounds import InfluenceBounds, bound_fishers
from mlprocessor.specs import StateDict
from protocol.artifacts import (
    FEDCURV_U,
    FEDCURV_V,
    FISHER,
    Artifact,
    encode_artifact,
    model_metadata,
    published_median_norm,
)
from protocol.plan import StrategySpec, TrainingPlan, bounds_to_extra
from storage.cid import Cid
from storage.model_file import ExtraValue


def client_updates(updates: Sequence[tuple[str, Artifact]]) -> list[ClientUpdate]:
    return [ClientUpdate(artifact.tensors, artifact.metadata.sample_count, client) for client, artifact in updates]


def fedcurv_sections(base: StateDict, deltas: Sequence[Mapping[str, np.ndarray]],
                     fishers: Sequence[StateDict | None], fisher_bound: float | None) -> dict[str, StateDict]:
    """u = sum F_j and v = sum F_j theta_j over accepted updates that carry a Fisher, theta_j = base +
    delta_j; with `fisher_bound`, each F_j first scaled to at most that many times the median norm."""
    pairs = [(delta, fisher) for delta, fisher in zip(deltas, fishers, strict=True) if fisher is not None]
    if not pairs:
        return {}
    from mlprocessor.ewc import EwcState, fedcurv_totals  # imports torch: only rounds with Fishers need it

    bounded = bound_fishers([f for _, f in pairs], fisher_bound) if fisher_bound else [f for _, f in pairs]
    contributions = [
        EwcState(fisher=fisher, anchor={k: (base[k].astype(np.float64) + delta[k]).astype(np.float32) for k in base})
        for (delta, _), fisher in zip(pairs, bounded, strict=True)
    ]
    u, v = fedcurv_totals(contributions)
    return {FEDCURV_U: u, FEDCURV_V: v}


SERVER_STATE_PREFIX = "server."


@dataclass(frozen=True)
class Aggregate:
    """The next model's tensors, the strategy's state for the round after (empty when stateless),
    and the accepted updates as the rule saw them (clipped and capped under `bounds`)."""

    tensors: StateDict
    server_state: dict[str, StateDict] = field(default_factory=dict)
    bounds: InfluenceBounds | None = None
    updates: list[ClientUpdate] = field(default_factory=list)


def aggregate_state(base: Artifact, accepted: Sequence[tuple[str, Artifact]], strategy: StrategySpec,
                    bounds: InfluenceBounds | None = None) -> Aggregate:
    """The strategy's combination of the accepted deltas, bounded by `bounds` against the previous
    round's median norm that the base publishes, applied to the base, with the strategy's state read
    from the base file's `server.*` sections."""
    previous = {name.removeprefix(SERVER_STATE_PREFIX): tensors for name, tensors in base.sections.items()
                if name.startswith(SERVER_STATE_PREFIX)}
    updates = client_updates(accepted)
    if bounds is not None:
        updates = bounds.apply(updates, published_median_norm(base.metadata))
    tensors, following = strategy.build().aggregate_with_state(base.tensors, updates, previous)
    return Aggregate(tensors, following, bounds, updates)


def result_file(base: Artifact, base_cid: Cid, round_id: int, aggregate: Aggregate,
                accepted: Sequence[tuple[str, Artifact]], strategy: StrategySpec,
                extra: Mapping[str, ExtraValue]) -> bytes:
    """The bytes published as the round's result; `extra` carries the plan and the metrics.
    Fisher sections count only when the round's plan (in its base) asked for FedCurv."""
    fedcurv = TrainingPlan.from_extra(base.metadata.extra).fedcurv_lambda > 0
    bounds = aggregate.bounds
    sections = fedcurv_sections(
        base.tensors, [u.delta for u in aggregate.updates], [artifact.section(FISHER) for _, artifact in accepted],
        bounds.fisher if bounds else None) if fedcurv else {}
    sections.update({SERVER_STATE_PREFIX + name: tensors for name, tensors in aggregate.server_state.items()})
    samples = sum(artifact.metadata.sample_count for _, artifact in accepted)
    metadata = model_metadata(base.metadata.architecture, round_id, samples, base_cid,
                              {**extra, **strategy.to_extra(), **bounds_to_extra(bounds)})
    return encode_artifact(aggregate.tensors, metadata, sections)
