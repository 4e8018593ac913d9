"""The explorer's view of a secure round, from public data alone: its phases and deadlines, who
joined, posted shares, submitted a masked update, was excluded in the review (with the reason) and
revealed, and how far the reveals go in rebuilding each survivor's self-mask and each dropped or
excluded participant's masking key.

A masked update is shown as what it is, a CID and a claimed sample count: its values are
uniformly masked, so nobody (this page included) can give its norm, its direction or its share
of the aggregate. Only counts of revealed shares are shown, never their values.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from web3 import Web3

from chain.contract import FederatedLearningContract, RoundInfo, RoundState
from protocol.secure.public_round import SecureRoundRecord, load_reveals, read_secure_round
from protocol.secure.shares import ShareReveal
from storage.cid import Cid
from storage.store import ContentStore
from webui.node import phases_view


def secure_round_view(contract: FederatedLearningContract, store: ContentStore, info: RoundInfo,
                      block: int) -> dict[str, Any] | None:
    """The round's secure record as the round page shows it; None for a plain round."""
    record = read_secure_round(contract, info.round_id)
    if record is None:
        return None
    reveals, problems = load_reveals(store, record)
    self_shares = Counter(dealer for reveal in reveals for dealer in reveal.self_shares)
    key_shares = Counter(dealer for reveal in reveals for dealer in reveal.key_shares)
    closed = info.state is not RoundState.OPEN
    view = phases_view(record.phases, len(record.submissions), block, not closed)
    if closed:
        view["phase"] = str(info.state)
    masking_fixed = closed or record.phases.shares_over(block)
    submissions_final = closed or view["phase"] in ("review", "reveal", "over")
    threshold = record.phases.threshold
    view["participants"] = _participants(record, masking_fixed, submissions_final, self_shares, key_shares)
    usable = {reveal.revealer: reveal for reveal in reveals}
    view["reveals"] = [_reveal_row(revealer, cid, usable.get(revealer)) for revealer, cid in record.reveals]
    view["recoveries"] = [{"address": Web3.to_checksum_address(address), "key_shares": key_shares[address],
                           "threshold": threshold, "recovered": key_shares[address] >= threshold,
                           "why": _why_dropped(record, address)}
                          for address in record.dropped] if submissions_final else []
    view["reveal_problems"] = problems
    return view


def _why_dropped(record: SecureRoundRecord, address: str) -> str:
    """A dropped participant never submitted; an excluded one did, and the review says why it is not summed."""
    reason = record.excluded.get(address)
    return "no masked update" if reason is None else f"excluded in the review: {reason}"


def _reveal_row(revealer: str, cid: Cid, reveal: ShareReveal | None) -> dict[str, Any]:
    """One reveal: how many self-mask and key shares it holds (None when its file is unusable)."""
    return {"revealer": Web3.to_checksum_address(revealer), "cid": str(cid),
            "self_shares": len(reveal.self_shares) if reveal else None,
            "key_shares": len(reveal.key_shares) if reveal else None}


def _participants(record: SecureRoundRecord, masking_fixed: bool, submissions_final: bool,
                  self_shares: Counter[str], key_shares: Counter[str]) -> list[dict[str, Any]]:
    """Every participant in join order with where it got to; a member of the masking set without a
    masked update is `dropped` once submissions are final (its pairwise masks are then removed with
    its key shares), one whose update the review excluded `excluded (<reason>)` (the same), one that
    never posted shares `left before masking` (nobody masked with it)."""
    submitted = {s.client.lower(): s for s in record.submissions}
    revealed = {revealer for revealer, _ in record.reveals}
    rows = []
    for address, (index, _) in sorted(record.joined.items(), key=lambda item: item[1][0]):
        if address in revealed:
            status = "revealed"
        elif address in record.excluded:
            status = f"excluded ({record.excluded[address]})"
        elif address in submitted:
            status = "submitted"
        elif address in record.masking_keys:
            status = "dropped" if submissions_final else "shared"
        else:
            status = "left before masking" if masking_fixed else "joined"
        submission = submitted.get(address)
        rows.append({"address": Web3.to_checksum_address(address), "index": index, "status": status,
                     "shares_cid": str(record.bundle_cids[address]) if address in record.bundle_cids else None,
                     "update_cid": str(submission.cid) if submission else None,
                     "samples": submission.samples if submission else None,
                     "self_shares_revealed": self_shares[address] if submission else None,
                     "key_shares_revealed": key_shares[address] if address in record.dropped else None})
    return rows
