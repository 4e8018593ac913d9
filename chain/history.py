"""The round history rebuilt from the contract's events alone: what `run.py history` prints.

Everything here comes from logs and receipts, so anyone with the contract address can audit
the rounds without trusting the organization's services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_utils import event_abi_to_log_topic

from chain.contract import FederatedLearningContract, RoundState, decode_accepted
from chain.logs import read_logs
from storage.cid import Cid

_ROUND_EVENTS = ("RoundOpened", "UpdateSubmitted", "SubmissionsFrozen", "RoundFinalized", "RoundAborted",
                 "SecureRoundOpened", "ParticipantJoined", "SharesPosted", "SharesRevealed", "SecureRoundAborted")


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

    @property
    def accepted(self) -> list[SubmissionRecord]:
        return [submission for submission in self.submissions if submission.accepted]

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.round_id,
            "state": str(self.state),
            "base_cid": str(self.base_cid),
            "result_cid": str(self.result_cid) if self.result_cid else None,
            "deadline_block": self.deadline,
            "quorum": self.quorum,
            "max_samples": self.max_samples,
            "submissions_closed": self.submissions_closed,
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
    Finalized and aborted rounds, receipts, and registrations in blocks already read are kept.
    """

    def __init__(self, contract: FederatedLearningContract, from_block: int | None = None) -> None:
        """Whole-history scans (registrations) start at `from_block`, by default the deployment block."""
        self._contract = contract
        self._from_block = from_block
        events = contract.web3_contract.events
        self._events_by_topic = {
            event_abi_to_log_topic(entry): getattr(events, entry["name"])()
            for entry in contract.artifact.abi if entry["type"] == "event"
        }
        self._round_topics = {topic for topic, event in self._events_by_topic.items()
                              if event.event_name in _ROUND_EVENTS}
        self._registered_topic = next(topic for topic, event in self._events_by_topic.items()
                                      if event.event_name == "ClientRegistered")
        self._gas_cache: dict[str, int] = {}
        self._closed_rounds: dict[int, RoundRecord] = {}  # finalized or aborted: final, with gas
        self._clients: dict[str, None] = {}
        self._clients_read_to: int | None = None

    def _first_block(self) -> int:
        if self._from_block is None:
            self._from_block = self._contract.deployment_block()
        return self._from_block

    def round_blocks(self, round_id: int) -> tuple[int, int] | None:
        """The blocks that hold round `round_id`'s events, or None if there is no such round."""
        pair = self._contract.rounds(round_id, 2) if round_id >= 1 else []
        if not pair or pair[0].round_id != round_id:
            return None
        end = pair[1].open_block if len(pair) == 2 else self._contract.block_number()
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
        return [self._events_by_topic[bytes(log["topics"][0])].process_log(log) for log in logs
                if bytes(log["topics"][0]) in keep]

    def _gas(self, tx_hash: str) -> int:
        if tx_hash not in self._gas_cache:
            self._gas_cache[tx_hash] = self._contract.chain.web3.eth.get_transaction_receipt(tx_hash)["gasUsed"]
        return self._gas_cache[tx_hash]

    def round(self, round_id: int, *, with_gas: bool = True) -> RoundRecord | None:
        """One round from its own blocks and events only; `with_gas=False` skips the receipt lookups
        that gas figures need (one call per transaction). A closed round is read once."""
        if round_id in self._closed_rounds:
            return self._closed_rounds[round_id]
        found = self._assemble(self.events(round_id), with_gas)
        return self._keep_if_closed(found[0], with_gas) if found else None

    def _keep_if_closed(self, record: RoundRecord, with_gas: bool) -> RoundRecord:
        if with_gas and record.state in (RoundState.FINALIZED, RoundState.ABORTED):
            self._closed_rounds[record.round_id] = record
        return record

    def rounds(self) -> list[RoundRecord]:
        """Every round with its submissions, acceptance and transactions: rounds already closed
        come from the cache, the others from one read starting where the first of them opened."""
        count = self._contract.round_count()
        missing = [round_id for round_id in range(1, count + 1) if round_id not in self._closed_rounds]
        fresh: dict[int, RoundRecord] = {}
        blocks = self.round_blocks(missing[0]) if missing else None
        if blocks is not None:
            events = self._read(blocks[0], self._contract.block_number(), None, self._round_topics)
            fresh = {record.round_id: self._keep_if_closed(record, with_gas=True)
                     for record in self._assemble(events, with_gas=True)}
        return [self._closed_rounds.get(round_id) or fresh[round_id] for round_id in range(1, count + 1)]

    def clients(self) -> list[str]:
        """Registered clients in registration order; only blocks not read before are read."""
        latest = self._contract.block_number()
        first = self._first_block() if self._clients_read_to is None else self._clients_read_to + 1
        if first <= latest:
            registered = self._read(first, latest, [_hex(self._registered_topic)], {self._registered_topic})
            self._clients.update(dict.fromkeys(event["args"]["client"] for event in registered))
            self._clients_read_to = latest
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
                    quorum=args["quorum"], max_samples=args["maxSamples"], opened_block=event["blockNumber"],
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
            elif name in ("RoundFinalized", "RoundAborted"):
                record = rounds[args["roundId"]]
                record.close_tx, record.close_gas = tx_hash, gas(tx_hash)
                record.closed_block = event["blockNumber"]
                if name == "RoundFinalized":
                    record.state = RoundState.FINALIZED
                    record.result_cid = Cid(bytes(args["resultCid"]))
                    bitmap = bytes(args["acceptedBitmap"])  # empty for a secure round: every masked update counts
                    flags = decode_accepted(bitmap, args["submissions"]) if bitmap else [True] * args["submissions"]
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
