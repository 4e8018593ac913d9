"""The round history rebuilt from the contract's events alone: what `run.py history` prints.

Everything here comes from logs and receipts, so anyone with the contract address can audit
the rounds without trusting the organization's services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_utils import event_abi_to_log_topic
from web3.types import LogReceipt

from chain.contract import FederatedLearningContract, RoundState, decode_accepted
from storage.cid import Cid

LOG_PAGE_BLOCKS = 5_000
_ROUND_EVENTS = ("RoundOpened", "UpdateSubmitted", "RoundFinalized", "RoundAborted",
                 "SecureRoundOpened", "ParticipantJoined", "SeedsRevealed", "SecureRoundAborted")


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
    opened_block: int
    open_tx: str
    open_gas: int | None
    state: RoundState = RoundState.OPEN
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
    """Reads and decodes the contract's logs page by page (public nodes cap log ranges)."""

    def __init__(self, contract: FederatedLearningContract, from_block: int | None = None) -> None:
        """Logs are read from `from_block`, by default the contract's deployment block."""
        self._contract = contract
        self._from_block = contract.deployment_block() if from_block is None else from_block
        events = contract.web3_contract.events
        self._events_by_topic = {
            event_abi_to_log_topic(entry): getattr(events, entry["name"])()
            for entry in contract.artifact.abi if entry["type"] == "event"
        }
        self._round_topics = {topic for topic, event in self._events_by_topic.items()
                              if event.event_name in _ROUND_EVENTS}
        self._gas_cache: dict[str, int] = {}

    def events(self, round_id: int | None = None) -> list[Any]:
        """Decoded events of the contract in chain order: all of them, or those of one round."""
        web3 = self._contract.chain.web3
        last = web3.eth.block_number
        topics = None if round_id is None else [None, "0x" + round_id.to_bytes(32, "big").hex()]
        decoded = []
        for start in range(self._from_block, last + 1, LOG_PAGE_BLOCKS):
            query: dict[str, Any] = {
                "address": self._contract.address,
                "fromBlock": start,
                "toBlock": min(start + LOG_PAGE_BLOCKS - 1, last),
            }
            if topics:
                query["topics"] = topics
            logs: list[LogReceipt] = web3.eth.get_logs(query)
            decoded += [self._events_by_topic[bytes(log["topics"][0])].process_log(log) for log in logs
                        if bytes(log["topics"][0]) in self._round_topics or round_id is None]
        return decoded

    def _gas(self, tx_hash: str) -> int:
        if tx_hash not in self._gas_cache:
            self._gas_cache[tx_hash] = self._contract.chain.web3.eth.get_transaction_receipt(tx_hash)["gasUsed"]
        return self._gas_cache[tx_hash]

    def round(self, round_id: int, *, with_gas: bool = True) -> RoundRecord | None:
        """One round from its own events only (a cheap, filtered log query); `with_gas=False`
        skips the receipt lookups that gas figures need (one call per transaction)."""
        found = self._assemble(self.events(round_id), with_gas)
        return found[0] if found else None

    def rounds(self) -> list[RoundRecord]:
        """Every round with its submissions, acceptance and transactions."""
        return self._assemble(self.events(), with_gas=True)

    def rounds_and_clients(self) -> tuple[list[RoundRecord], list[str]]:
        """Every round, and the registered clients in registration order, from one scan of the logs."""
        events = self.events()
        registered = dict.fromkeys(e["args"]["client"] for e in events if e["event"] == "ClientRegistered")
        return self._assemble(events, with_gas=True), list(registered)

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
                    quorum=args["quorum"], opened_block=event["blockNumber"], open_tx=tx_hash,
                    open_gas=gas(tx_hash),
                )
            elif name == "UpdateSubmitted":
                rounds[args["roundId"]].submissions.append(SubmissionRecord(
                    index=args["index"], client=args["client"], cid=Cid(bytes(args["cid"])),
                    samples=args["samples"], tx_hash=tx_hash, block_number=event["blockNumber"],
                    gas_used=gas(tx_hash),
                ))
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
