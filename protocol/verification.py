"""Re-check a finalized round from the chain and IPFS alone: recompute the aggregate, compare CIDs.

The base model, the accepted updates (in on-chain order) and the strategy and influence bounds
named in the result file determine the result's tensors; metrics in its metadata are the organization's claims and
are carried over as published, and so are the reasons for rejected updates (`rejections`): the
accepted set itself is on-chain. Any difference in the tensors changes the CID; a result that
cannot be recomputed (unknown strategy or parameter, missing file) fails with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chain.contract import FederatedLearningContract, RoundState
from chain.history import HistoryReader
from protocol.aggregate import accepted_update, aggregate_round, recent_movement, result_file, uses_fedcurv
from protocol.artifacts import Artifact, decode_artifact, expect_update_for
from protocol.plan import StrategySpec, bounds_from_extra
from protocol.secure.public_round import read_secure_round
from protocol.secure.verification import verify_secure_round
from storage.hashing import cid_of_bytes
from storage.model_file import ModelFileError, expected_spec
from storage.store import ContentStore, StorageError


@dataclass(frozen=True)
class Verification:
    round_id: int
    ok: bool
    onchain_cid: str | None
    recomputed_cid: str | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"round": self.round_id, "ok": self.ok, "onchain_cid": self.onchain_cid,
                "recomputed_cid": self.recomputed_cid, "message": self.message}


def verify_round(contract: FederatedLearningContract, store: ContentStore, round_id: int) -> Verification:
    info = contract.round(round_id)
    onchain = str(info.result_cid) if info.result_cid else None
    if info.state is not RoundState.FINALIZED:
        return Verification(round_id, False, onchain, None, f"round {round_id} is not finalized ({info.state})")
    secure = read_secure_round(contract, round_id)
    if secure is not None:
        check = verify_secure_round(store, info, secure)
        return Verification(round_id, check.ok, onchain, check.recomputed_cid, check.message)
    record = HistoryReader(contract).round(round_id, with_gas=False)  # gas plays no part in a check
    assert record is not None and info.base_cid is not None and info.result_cid is not None
    try:
        base = decode_artifact(store.get(info.base_cid))
        spec = expected_spec(base.tensors)
        fedcurv, submissions = uses_fedcurv(base), record.accepted

        def read(index: int) -> Artifact:
            submission = submissions[index]
            update = decode_artifact(store.get(submission.cid), spec)
            expect_update_for(update, round_id, info.base_cid, submission.samples)
            return update

        published = decode_artifact(store.get(info.result_cid), spec)
        strategy = StrategySpec.from_extra(published.metadata.extra)
        bounds = bounds_from_extra(published.metadata.extra)
        moved = recent_movement(base, bounds.trajectory, store.get) if bounds is not None and bounds.alignment \
            else None
        # two passes, one update in memory at a time: the bounds need the round's medians first
        accepted = [accepted_update(s.client, read(i), fedcurv, moved) for i, s in enumerate(submissions)]
        aggregate = aggregate_round(base, accepted, read, strategy, bounds)
        recomputed = cid_of_bytes(result_file(base, info.base_cid, round_id, aggregate, strategy,
                                              published.metadata.extra))
    except (StorageError, ModelFileError, ValueError, TypeError, KeyError) as error:  # a malformed result fails
        return Verification(round_id, False, onchain, None, f"round {round_id} cannot be recomputed: {error}")
    if recomputed != info.result_cid:
        return Verification(round_id, False, onchain, str(recomputed),
                            f"round {round_id}: the chain records {onchain} but the aggregate of its "
                            f"{len(accepted)} accepted updates is {recomputed}")
    return Verification(round_id, True, onchain, str(recomputed),
                        f"round {round_id}: {onchain} is the {strategy.name} aggregate of {len(accepted)} updates")
