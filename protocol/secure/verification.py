"""Re-check a finalized secure round from public data: unmask the sum again, re-run the organization's
sum check against the bounds its base publishes (protocol.secure.bounds), rebuild the file, compare CIDs."""

from __future__ import annotations

from dataclasses import dataclass

from chain.contract import RoundInfo
from protocol.artifacts import decode_artifact
from protocol.plan import StrategySpec
from protocol.secure.aggregate import secure_result_file, secure_state
from protocol.secure.bounds import published_fraction, round_bounds, sum_problem
from protocol.secure.public_round import SecureRoundRecord, load_bundles, load_masked_update, load_reveals
from protocol.secure.unmask import UnmaskingError
from storage.hashing import cid_of_bytes
from storage.model_file import ModelFileError, expected_spec
from storage.store import ContentStore, StorageError


@dataclass(frozen=True)
class SecureCheck:
    ok: bool
    recomputed_cid: str | None
    message: str


def verify_secure_round(store: ContentStore, info: RoundInfo, record: SecureRoundRecord) -> SecureCheck:
    """`info` is a finalized round and `record` its public secure-round record."""
    round_id, onchain = info.round_id, str(info.result_cid)
    assert info.result_cid is not None
    if record.exclusions_hidden:
        return SecureCheck(False, None, f"secure round {round_id}: the node's logs show {len(record.excluded)} "
                                        f"exclusions, the contract counts {record.phases.excluded}; ask another node")
    try:
        base = decode_artifact(store.get(record.base_cid))
        updates = [load_masked_update(store, record, s, base) for s in record.survivors]  # the excluded: dropped
        bundles, _ = load_bundles(store, record)
        reveals, _ = load_reveals(store, record)
        state, unmasked = secure_state(base, updates, record.setup(), bundles, reveals)
        fraction = published_fraction(base.metadata.extra)
        bounds = round_bounds(base.tensors, base.metadata.extra, fraction, info.max_samples)
        problem = sum_problem(unmasked.average, base.tensors, bounds, fraction)
        published = decode_artifact(store.get(info.result_cid), expected_spec(base.tensors))
        strategy = StrategySpec.from_extra(published.metadata.extra)
        recomputed = cid_of_bytes(secure_result_file(base, record.base_cid, round_id, state, record.total_samples,
                                                     strategy, published.metadata.extra))
    except (StorageError, ModelFileError, UnmaskingError, ValueError) as error:
        return SecureCheck(False, None, f"secure round {round_id} cannot be recomputed: {error}")
    if problem is not None:
        return SecureCheck(False, str(recomputed),
                           f"secure round {round_id}: finalized although its decoded sum breaks the bounds its "
                           f"base publishes (the organization should have aborted it): {problem}")
    if recomputed != info.result_cid:
        return SecureCheck(False, str(recomputed),
                           f"secure round {round_id}: the chain records {onchain} but the unmasked sum of its "
                           f"{len(updates)} masked updates is {recomputed}")
    return SecureCheck(True, str(recomputed),
                       f"secure round {round_id}: {onchain} is the unmasked {strategy.name} sum of "
                       f"{len(updates)} masked updates ({len(record.dropped)} dropped, {len(reveals)} share reveals, "
                       f"threshold {record.phases.threshold}), within the published clip bound {bounds.clip:.4g}"
                       + ("" if fraction is None else f" and {fraction:g} x the base's norm") + _exclusions(record))


def _exclusions(record: SecureRoundRecord) -> str:
    """The review's exclusions as `verify` reports them (they count among the dropped)."""
    if not record.excluded:
        return ""
    return "; excluded in the review: " + ", ".join(f"{who} ({reason})" for who, reason in record.excluded.items())
