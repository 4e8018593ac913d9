"""Turn a round's base model and accepted update files into the next model file, deterministically.

The organization calls this to finalize a round and `verify` calls it to check one: the same
inputs, in the on-chain submission order, give the same bytes and so the same CID. A server
optimizer's state (FedAvgM's momentum, FedAdam's moments) travels in the result file as sections
`server.<name>/`, and the next round reads it from its base: the chain and IPFS alone still
determine every round. The influence bounds (mlprocessor/aggregation/bounds.py) a result was made
under are recorded in it (`bounds.*`), so old results, made without, recompute as they were.

Streaming: the bounds need the round's medians (of norms, claims and Fisher norms) before any
update is combined, so the caller first screens every update into a small `AcceptedUpdate`; then
each file is read again, one at a time, and added into float64 running sums (the weighted-mean
rules: FedAvg, FedProx, FedAvgM, FedAdam; and FedCurv's u and v). Memory is a few models whatever
the number of clients. The rules that need every update at once (median, trimmed mean, Krum) hold
all the accepted deltas in memory: about 8 bytes per parameter per update (float64 copies).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from mlprocessor.aggregation import ClientUpdate
from mlprocessor.aggregation.alignment import cosine, movement
from mlprocessor.aggregation.base import WeightedSum
from mlprocessor.aggregation.bounds import InfluenceBounds, clip_limit, l2_norm, scaled_to
from mlprocessor.fedcurv_sums import FedCurvSums
from mlprocessor.specs import StateDict
from protocol.artifacts import (
    FEDCURV_U,
    FEDCURV_V,
    FISHER,
    Artifact,
    decode_artifact,
    encode_artifact,
    model_metadata,
    published_median_norm,
)
from protocol.plan import StrategySpec, TrainingPlan, bounds_to_extra
from storage.cid import Cid, as_cid
from storage.model_file import ExtraValue, ModelFileError, expected_spec

SERVER_STATE_PREFIX = "server."
WEIGHED_CLAIMS_KEY = "bounds_claims"  # the claims the rule weighed, after the bounds (explorer, verify)


@dataclass(frozen=True)
class AcceptedUpdate:
    """What aggregation needs to know of an accepted update before reading it again: a few numbers."""

    client: str
    samples: int
    norm: float  # L2 norm of its delta
    fisher_norm: float | None = None  # of its Fisher section, in FedCurv rounds; None without one
    cosine: float | None = None  # with the model's recent movement (alignment); None without one


def accepted_update(client: str, artifact: Artifact, fedcurv: bool,
                    moved: StateDict | None = None) -> AcceptedUpdate:
    fisher = artifact.section(FISHER) if fedcurv else None
    return AcceptedUpdate(client, artifact.metadata.sample_count, l2_norm(artifact.tensors),
                          l2_norm(fisher) if fisher is not None else None,
                          cosine(artifact.tensors, moved) if moved is not None else None)


def recent_movement(base: Artifact, rounds: int, fetch: Callable[[Cid], bytes]) -> StateDict | None:
    """The model's movement over its last `rounds` rounds: the base minus the model that many
    results back along the `base_cid` links (fetched by CID), or the oldest model there is, for
    alignment weighting; None for a first model. The walk stops at a file that is not a model of
    the same tensors. A store outage raises StorageError."""
    spec = expected_spec(base.tensors)
    ancestor: Artifact | None = None
    current = base
    for _ in range(rounds):
        if current.metadata.base_cid is None:
            break
        try:
            parent = decode_artifact(fetch(as_cid(current.metadata.base_cid)), spec)
        except ModelFileError:
            break
        if parent.metadata.kind != "model":
            break
        ancestor = current = parent
    return movement(base.tensors, ancestor.tensors) if ancestor is not None else None


def uses_fedcurv(base: Artifact) -> bool:
    """Fisher sections count only when the round's plan (in its base) asked for FedCurv."""
    return TrainingPlan.from_extra(base.metadata.extra).fedcurv_lambda > 0


@dataclass(frozen=True)
class Aggregate:
    """The next model's tensors, the strategy's state for the round after (empty when stateless),
    FedCurv's sections (empty unless the plan asks for them), the bounds it was made under, the
    claims the rule weighed under them and the accepted updates' total claimed samples."""

    tensors: StateDict
    server_state: dict[str, StateDict] = field(default_factory=dict)
    fedcurv: dict[str, StateDict] = field(default_factory=dict)
    bounds: InfluenceBounds | None = None
    samples: int = 0
    weighed_claims: tuple[int, ...] = ()


def aggregate_round(base: Artifact, accepted: Sequence[AcceptedUpdate], read: Callable[[int], Artifact],
                    strategy: StrategySpec, bounds: InfluenceBounds | None = None) -> Aggregate:
    """The strategy's combination of the accepted deltas (`read(i)` gives the i-th again, in
    on-chain order), each clipped and its claim bounded under `bounds` against the previous round's
    median norm that the base publishes, applied to the base, with the strategy's state read from
    the base file's `server.*` sections."""
    rule = strategy.build()
    if len(accepted) < rule.minimum_updates():
        raise ValueError(f"{rule.name} needs at least {rule.minimum_updates()} updates, got {len(accepted)}")
    previous = {name.removeprefix(SERVER_STATE_PREFIX): tensors for name, tensors in base.sections.items()
                if name.startswith(SERVER_STATE_PREFIX)}
    counts = [u.samples for u in accepted]
    clip = fisher_limit = None
    if bounds is not None:
        clip = clip_limit([u.norm for u in accepted], published_median_norm(base.metadata), bounds.clip)
        cosines = [u.cosine for u in accepted]
        counts = bounds.claims(counts, None if None in cosines else cosines)
        fisher_norms = [u.fisher_norm for u in accepted if u.fisher_norm is not None]
        fisher_limit = bounds.fisher * float(np.median(fisher_norms)) if fisher_norms else None
    weights = rule.mean_weights(counts)
    total = WeightedSum(base.tensors) if weights is not None else None
    held: list[ClientUpdate] = []
    curv = FedCurvSums() if uses_fedcurv(base) else None
    for i, update in enumerate(accepted):
        artifact = read(i)
        delta = scaled_to(artifact.tensors, clip) if clip is not None else artifact.tensors
        if total is not None and weights is not None:
            total.add(weights[i], delta)
        else:
            held.append(ClientUpdate(delta, counts[i], update.client))
        fisher = artifact.section(FISHER)
        if curv is not None and fisher is not None:
            _add_fedcurv(curv, base.tensors, delta, fisher, fisher_limit)
    if total is not None and weights is not None:
        tensors, following = rule.apply(base.tensors, total.divided_by(weights.sum()), previous)
    else:
        tensors, following = rule.aggregate_with_state(base.tensors, held, previous)
    sections = dict(zip((FEDCURV_U, FEDCURV_V), curv.totals(), strict=True)) if curv and curv.added else {}
    return Aggregate(tensors, following, sections, bounds, sum(u.samples for u in accepted), tuple(counts))


def aggregate_state(base: Artifact, accepted: Sequence[tuple[str, Artifact]], strategy: StrategySpec,
                    bounds: InfluenceBounds | None = None, moved: StateDict | None = None) -> Aggregate:
    """`aggregate_round` over decoded updates at hand (tests, small rounds)."""
    fedcurv = uses_fedcurv(base)
    summaries = [accepted_update(client, artifact, fedcurv, moved) for client, artifact in accepted]
    return aggregate_round(base, summaries, lambda i: accepted[i][1], strategy, bounds)


def fedcurv_sections(base: StateDict, deltas: Sequence[Mapping[str, np.ndarray]],
                     fishers: Sequence[StateDict | None], fisher_bound: float | None) -> dict[str, StateDict]:
    """u = sum F_j and v = sum F_j theta_j over the updates that carry a Fisher, theta_j = base +
    delta_j; with `fisher_bound`, each F_j first scaled to at most that many times the median norm
    (the lean federation of the benchmarks; the protocol streams the same sums in `aggregate_round`)."""
    pairs = [(delta, fisher) for delta, fisher in zip(deltas, fishers, strict=True) if fisher is not None]
    if not pairs:
        return {}
    limit = fisher_bound * float(np.median([l2_norm(f) for _, f in pairs])) if fisher_bound else None
    curv = FedCurvSums()
    for delta, fisher in pairs:
        _add_fedcurv(curv, base, delta, fisher, limit)
    return dict(zip((FEDCURV_U, FEDCURV_V), curv.totals(), strict=True))


def _add_fedcurv(curv: FedCurvSums, base: Mapping[str, np.ndarray], delta: Mapping[str, np.ndarray],
                 fisher: Mapping[str, np.ndarray], limit: float | None) -> None:
    """One update's (Fisher, theta_j) pair, the Fisher scaled down to norm `limit` when given."""
    if limit is not None:
        fisher = {k: v.astype(np.float32) for k, v in scaled_to(fisher, limit).items()}
    curv.add(fisher, {k: (base[k].astype(np.float64) + delta[k]).astype(np.float32) for k in base})


def result_file(base: Artifact, base_cid: Cid, round_id: int, aggregate: Aggregate, strategy: StrategySpec,
                extra: Mapping[str, ExtraValue]) -> bytes:
    """The bytes published as the round's result; `extra` carries the plan and the metrics."""
    sections = dict(aggregate.fedcurv)
    sections.update({SERVER_STATE_PREFIX + name: tensors for name, tensors in aggregate.server_state.items()})
    weighed = {WEIGHED_CLAIMS_KEY: ",".join(map(str, aggregate.weighed_claims))} \
        if aggregate.bounds is not None and aggregate.bounds.alignment else {}  # read by `weighed_claims`
    metadata = model_metadata(base.metadata.architecture, round_id, aggregate.samples, base_cid,
                              {**extra, **strategy.to_extra(), **bounds_to_extra(aggregate.bounds), **weighed})
    return encode_artifact(aggregate.tensors, metadata, sections)


def weighed_claims(extra: Mapping[str, ExtraValue]) -> list[int] | None:
    """The claims a result records its rule weighed, in on-chain order of the accepted updates; None
    for results made before alignment weighting. Malformed text raises ValueError."""
    value = extra.get(WEIGHED_CLAIMS_KEY)
    return None if value is None else [int(n) for n in str(value).split(",")]
