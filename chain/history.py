"""The round history rebuilt from the contract's events alone: what `run.py history` prints.

Everything here comes from logs and receipts, so anyone with the contract address can audit
the rounds without trusting the organization's services. The submissions of a plain round are
checkable against the chain's state too: their `submissions_digest` is the round header's.

Reorgs: the reader remembers the hash of the blocks up to which it cached (closed rounds,
registrations) and, before answering, checks the newest of them; when it changed, everything
cached past the newest block that is still on the chain is dropped and read again. With
`confirmations` > 0 it reads only blocks at least that deep (latest - confirmations).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chain.contract import (
    ExclusionReason,
    FederatedLearningContract,
    RoundState,
    SecureAbortReason,
    decode_accepted,
    submissions_digest,
)
from chain.logs import read_logs
from storage.cid import Cid

_ROUND_EVENTS = ("RoundOpened", "UpdateSubmitted", "SubmissionsFrozen", "RoundFinalized", "RoundAborted",
                 "SecureRoundOpened", "ParticipantJoined", "SharesPosted", "SharesRevealed", "SecureRoundAborted",
                 "MaskedUpdateExcluded")


@dataclass
class SubmissionRecord:
    index: int
    client: str
    cid: Cid
    samples: int
    tx_hash: str
    block_number: int
    gas_used: int | None  # None when the reader was asked not to fetch receipts
    accepted: bool | None = None  # known once the round is finalized


@dataclass
class RoundRecord:
    round_id: int
    base_cid: Cid
    deadline: int
    quorum: int
    max_samples: int
    window: int
    opened_block: int
    open_tx: str
    open_gas: int | None
    state: RoundState = RoundState.OPEN
    submissions_closed: bool = False
    submissions: list[SubmissionRecord] = field(default_factory=list)
    result_cid: Cid | None = None
    close_tx: str | None = None
    close_gas: int | None = None
    closed_block: int | None = None
    close_block_hash: bytes | None = None
    secure: bool = False  # a secure-aggregation round (SecureRoundOpened): its submissions are masked
    abort_reason: SecureAbortReason | None = None  # a secure round's, as SecureRoundAborted records it
    excluded: dict[str, ExclusionReason] = field(default_factory=dict)  # a secure round's, lower-case addresses

    @property
    def accepted(self) -> list[SubmissionRecord]:
        return [submission for submission in self.submissions if submission.accepted]

    def digest(self, count: int | None = None) -> bytes:
        """The contract's submissions digest of the first `count` submissions (all by default)."""
        return submissions_digest([(s.client, s.cid, s.samples) for s in self.submissions[:count]])

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.round_id,
            "state": str(self.state),
            "base_cid": str(self.base_cid),
            "result_cid": str(self.result_cid) if self.result_cid else None,
            "deadline_block": self.deadline,
            "quorum": self.quorum,
            "max_samples": self.max_samples,
            "window_blocks": self.window,
            "submissions_closed": self.submissions_closed,
            "secure": self.secure,
            "abort_reason": str(self.abort_reason) if self.abort_reason is not None else None,
            "excluded": {client: str(reason) for client, reason in self.excluded.items()},
            "opened_block": self.opened_block,
            "closed_block": self.closed_block,
            "open_tx": self.open_tx,
            "close_tx": self.close_tx,
            "gas": {"open": self.open_gas, "close": self.close_gas,
                    "submissions": sum(s.gas_used or 0 for s in self.submissions)},
            "submissions": [
                {"index": s.index, "client": s.client, "cid": str(s.cid), "samples": s.samples,
                 "tx": s.tx_hash, "block": s.block_number, "gas": s.gas_used, "accepted": s.accepted}
                for s in self.submissions
            ],
        }


class HistoryReader:
    """Reads and decodes the contract's logs by block range, caching what can no longer change.

    A round's events all lie in blocks `[openBlock_r, openBlock_{r+1}]` (up to the latest block
    for the newest round), so reading one round costs the same at round 3 and at round 300.
    Finalized and aborted rounds, receipts, and registrations in blocks already read are kept,
    until a reorg replaces the blocks they came from.
    """

    def __init__(self, contract: FederatedLearningContract, from_block: int | None = None,
                 confirmations: int = 0) -> None:
        """Whole-history scans (registrations) start at `from_block`, by default the deployment block;
        only blocks `confirmations` deep or deeper are read."""
        if confirmations < 0:
            raise ValueError(f"confirmations must be 0 or more, not {confirmations}")
        self._contract = contract
        self._from_block = from_block
        self.confirmations = confirmations
        self._round_topics = contract.event_decoder.topics(_ROUND_EVENTS)
        self._registered_topic = contract.event_decoder.topic("ClientRegistered")
        self._gas_cache: dict[str, int] = {}
        self._closed_rounds: dict[int, RoundRecord] = {}  # finalized or aborted: final, with gas
        self._clients: dict[str, int] = {}  # address -> block of its registration
        self._clients_read_to: int | None = None
        self._anchors: dict[int, bytes] = {}  # block number -> hash, for the blocks cached content came from
        self.reorgs_noticed = 0

    def confirmed_block(self) -> int:
        """The newest block this reader reads: `confirmations` below the latest."""
        return max(self._contract.block_number() - self.confirmations, 0)

    def _block_hash(self, number: int) -> bytes | None:
        block = self._contract.chain.web3.eth.get_block(number)
        return bytes(block["hash"]) if block is not None else None

    def drop_reorged(self) -> bool:
        """Check the newest cached block against the chain; after a reorg, drop what was cached
        past the newest block still on the chain. True when something was dropped."""
        if not self._anchors:
            return False
        newest = max(self._anchors)
        if self._block_hash(newest) == self._anchors[newest]:
            return False
        kept = max((n for n in sorted(self._anchors, reverse=True)[1:]
                    if self._block_hash(n) == self._anchors[n]), default=-1)
        self._closed_rounds = {r: record for r, record in self._closed_rounds.items()
                               if record.closed_block is not None and record.closed_block <= kept}
        self._clients = {address: block for address, block in self._clients.items() if block <= kept}
        if self._clients_read_to is not None and self._clients_read_to > kept:
            self._clients_read_to = kept if kept >= 0 else None
        self._anchors = {n: h for n, h in self._anchors.items() if n <= kept}
        self._gas_cache.clear()  # a transaction re-included elsewhere may have used other gas
        self.reorgs_noticed += 1
        return True

    def _first_block(self) -> int:
        if self._from_block is None:
            self._from_block = self._contract.deployment_block()
        return self._from_block

    def round_blocks(self, round_id: int) -> tuple[int, int] | None:
        """The blocks that hold round `round_id`'s events, or None if there is no such round."""
        pair = self._contract.rounds(round_id, 2) if round_id >= 1 else []
        if not pair or pair[0].round_id != round_id:
            return None
        confirmed = self.confirmed_block()
        end = min(pair[1].open_block, confirmed) if len(pair) == 2 else confirmed
        return pair[0].open_block, end

    def events(self, round_id: int) -> list[Any]:
        """Decoded events of one round in chain order, read from that round's blocks only."""
        blocks = self.round_blocks(round_id)
        if blocks is None:
            return []
        return self._read(*blocks, topics=[None, _round_topic(round_id)], keep=self._round_topics)

    def _read(self, first: int, last: int, topics: list[Any] | None, keep: set[bytes]) -> list[Any]:
        """Decoded logs of the contract in [first, last], in queries the node accepts (chain/logs.py)."""
        query: dict[str, Any] = {"address": self._contract.address}
        if topics:
            query["topics"] = topics
        logs = read_logs(self._contract.chain.web3, query, first, last)
        decoder = self._contract.event_decoder
        return [decoder.decode(log) for log in logs if bytes(log["topics"][0]) in keep]

    def _gas(self, tx_hash: str) -> int:
        if tx_hash not in self._gas_cache:
            self._gas_cache[tx_hash] = self._contract.chain.web3.eth.get_transaction_receipt(tx_hash)["gasUsed"]
        return self._gas_cache[tx_hash]

    def round(self, round_id: int, *, with_gas: bool = True) -> RoundRecord | None:
        """One round from its own blocks and events only; `with_gas=False` skips the receipt lookups
        that gas figures need (one call per transaction). A closed round is read once (per reorg)."""
        self.drop_reorged()
        if round_id in self._closed_rounds:
            return self._closed_rounds[round_id]
        found = self._assemble(self.events(round_id), with_gas)
        return self._keep_if_closed(found[0], with_gas) if found else None

    def _keep_if_closed(self, record: RoundRecord, with_gas: bool) -> RoundRecord:
        if with_gas and record.state in (RoundState.FINALIZED, RoundState.ABORTED):
            assert record.closed_block is not None and record.close_block_hash is not None
            self._closed_rounds[record.round_id] = record
            self._anchors[record.closed_block] = record.close_block_hash
        return record

    def rounds(self) -> list[RoundRecord]:
        """Every round with its submissions, acceptance and transactions: rounds already closed
        come from the cache, the others from one read starting where the first of them opened
        (rounds opened in blocks not yet confirmed are left out)."""
        self.drop_reorged()
        count = self._contract.round_count()
        missing = [round_id for round_id in range(1, count + 1) if round_id not in self._closed_rounds]
        fresh: dict[int, RoundRecord] = {}
        blocks = self.round_blocks(missing[0]) if missing else None
        if blocks is not None:
            events = self._read(blocks[0], self.confirmed_block(), None, self._round_topics)
            fresh = {record.round_id: self._keep_if_closed(record, with_gas=True)
                     for record in self._assemble(events, with_gas=True)}
        found = (self._closed_rounds.get(round_id) or fresh.get(round_id) for round_id in range(1, count + 1))
        return [record for record in found if record is not None]

    def clients(self) -> list[str]:
        """Registered clients in registration order; only blocks not read before are read."""
        self.drop_reorged()
        latest = self.confirmed_block()
        first = self._first_block() if self._clients_read_to is None else self._clients_read_to + 1
        if first <= latest:
            anchor = self._block_hash(latest)
            registered = self._read(first, latest, [_hex(self._registered_topic)], {self._registered_topic})
            for event in registered:
                self._clients.setdefault(event["args"]["client"], event["blockNumber"])
            self._clients_read_to = latest
            if anchor is not None:
                self._anchors[latest] = anchor
        return list(self._clients)

    def rounds_and_clients(self) -> tuple[list[RoundRecord], list[str]]:
        """Every round, and the registered clients in registration order."""
        return self.rounds(), self.clients()

    def _assemble(self, events: list[Any], with_gas: bool) -> list[RoundRecord]:
        gas = self._gas if with_gas else _no_gas
        rounds: dict[int, RoundRecord] = {}
        for event in events:
            args = event["args"]
            tx_hash = event["transactionHash"].to_0x_hex()
            name = event["event"]
            if name == "RoundOpened":
                rounds[args["roundId"]] = RoundRecord(
                    round_id=args["roundId"], base_cid=Cid(bytes(args["baseCid"])), deadline=args["deadline"],
                    quorum=args["quorum"], max_samples=args["maxSamples"], window=args["window"],
                    opened_block=event["blockNumber"],
                    open_tx=tx_hash,
                    open_gas=gas(tx_hash),
                )
            elif args["roundId"] not in rounds:
                continue  # a round that opened before the blocks read (its record is already kept)
            elif name == "UpdateSubmitted":
                rounds[args["roundId"]].submissions.append(SubmissionRecord(
                    index=args["index"], client=args["client"], cid=Cid(bytes(args["cid"])),
                    samples=args["samples"], tx_hash=tx_hash, block_number=event["blockNumber"],
                    gas_used=gas(tx_hash),
                ))
            elif name == "SubmissionsFrozen":
                rounds[args["roundId"]].submissions_closed = True
            elif name == "SecureRoundOpened":
                rounds[args["roundId"]].secure = True
            elif name == "SecureRoundAborted":
                rounds[args["roundId"]].abort_reason = SecureAbortReason(args["reason"])
            elif name == "MaskedUpdateExcluded":
                rounds[args["roundId"]].excluded[args["client"].lower()] = ExclusionReason(args["reason"])
            elif name in ("RoundFinalized", "RoundAborted"):
                record = rounds[args["roundId"]]
                record.close_tx, record.close_gas = tx_hash, gas(tx_hash)
                record.closed_block, record.close_block_hash = event["blockNumber"], bytes(event["blockHash"])
                if name == "RoundFinalized":
                    record.state = RoundState.FINALIZED
                    record.result_cid = Cid(bytes(args["resultCid"]))
                    bitmap = bytes(args["acceptedBitmap"])  # empty for a secure round: every masked update
                    flags = (decode_accepted(bitmap, args["submissions"]) if bitmap  # not excluded counts
                             else [s.client.lower() not in record.excluded for s in record.submissions])
                    for submission, accepted in zip(record.submissions, flags, strict=True):
                        submission.accepted = accepted
                else:
                    record.state = RoundState.ABORTED
        return [rounds[round_id] for round_id in sorted(rounds)]


def _no_gas(tx_hash: str) -> None:
    return None


def _round_topic(round_id: int) -> str:
    return "0x" + round_id.to_bytes(32, "big").hex()


def _hex(topic: bytes) -> str:
    return "0x" + topic.hex()
