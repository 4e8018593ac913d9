"""The contract's logs decoded with eth_abi directly, one decoder for every reader of events.

web3's `process_log` runs every value through generic ABI normalizers, about 2 ms a log here:
reading a secure round of a few hundred events took the larger part of a survivor's reveal. The
events this contract emits have only static indexed inputs, so a topic is one ABI word and the
data one `eth_abi.decode`; the result is what `process_log` returns (`EventData` with checksummed
addresses), which tests/chain/test_events.py checks log for log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import decode
from eth_abi.grammar import parse
from eth_utils import event_abi_to_log_topic, to_checksum_address
from web3.datastructures import AttributeDict


@dataclass(frozen=True)
class _Event:
    name: str
    indexed: tuple[tuple[str, str], ...]  # (name, type) of the inputs carried as topics
    data: tuple[tuple[str, str], ...]  # (name, type) of the inputs ABI-encoded in the data
    order: tuple[str, ...]  # every input's name, in the declared order

    def decode(self, log: Mapping[str, Any]) -> AttributeDict:
        topics = log["topics"][1:]
        if len(topics) != len(self.indexed):
            raise ValueError(f"{self.name}: expected {len(self.indexed)} indexed topics, got {len(topics)}")
        values = {name: decode([kind], bytes(topic))[0]
                  for (name, kind), topic in zip(self.indexed, topics, strict=True)}
        data = decode([kind for _, kind in self.data], bytes(log["data"]))
        values.update(zip((name for name, _ in self.data), data, strict=True))
        kinds = dict(self.indexed + self.data)
        args = {name: to_checksum_address(values[name]) if kinds[name] == "address" else values[name]
                for name in self.order}
        return AttributeDict({
            "args": AttributeDict(args), "event": self.name, "logIndex": log["logIndex"],
            "transactionIndex": log["transactionIndex"], "transactionHash": log["transactionHash"],
            "address": log["address"], "blockHash": log["blockHash"], "blockNumber": log["blockNumber"],
        })


class EventDecoder:
    """Every event of an ABI by its topic (topic 0, the hash of the event's signature)."""

    def __init__(self, abi: Sequence[Mapping[str, Any]]) -> None:
        self._by_topic: dict[bytes, _Event] = {}
        for entry in abi:
            if entry["type"] != "event" or entry.get("anonymous"):
                continue
            inputs = entry["inputs"]
            if any(i["indexed"] and parse(i["type"]).is_dynamic for i in inputs):
                raise ValueError(f"{entry['name']}: a dynamic indexed input is only its hash; not decodable here")
            self._by_topic[event_abi_to_log_topic(entry)] = _Event(
                entry["name"], tuple((i["name"], i["type"]) for i in inputs if i["indexed"]),
                tuple((i["name"], i["type"]) for i in inputs if not i["indexed"]), tuple(i["name"] for i in inputs))

    def topic(self, name: str) -> bytes:
        return next(topic for topic, event in self._by_topic.items() if event.name == name)

    def topics(self, names: Sequence[str] | set[str] | frozenset[str]) -> set[bytes]:
        return {topic for topic, event in self._by_topic.items() if event.name in names}

    def decode(self, log: Mapping[str, Any]) -> AttributeDict | None:
        """The decoded event, or None for a log that is not one of the ABI's events."""
        event = self._by_topic.get(bytes(log["topics"][0])) if log["topics"] else None
        return event.decode(log) if event is not None else None
