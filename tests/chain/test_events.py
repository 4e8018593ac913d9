"""The eth_abi event decoder gives exactly what web3's process_log gives, for every log a plain
round and its registrations emit, and refuses an ABI it could not decode."""

from __future__ import annotations

from pathlib import Path

import pytest

from chain.events import EventDecoder
from tests.protocol.conftest import build_federation


def test_every_log_of_a_round_decodes_as_web3_decodes_it(tmp_path: Path) -> None:
    federation = build_federation(tmp_path)
    round_id, _ = federation.organization.open_round()
    for client in federation.clients:
        client.participate(round_id)
    federation.organization.close_round(round_id)
    contract = federation.organization.contract
    logs = contract.chain.web3.eth.get_logs({"address": contract.address, "fromBlock": 0, "toBlock": "latest"})
    events = contract.web3_contract.events
    by_name = {entry["name"]: getattr(events, entry["name"])() for entry in contract.artifact.abi
               if entry["type"] == "event"}
    decoded = [contract.event_decoder.decode(log) for log in logs]
    names = {event["event"] for event in decoded}
    assert {"ClientRegistered", "RoundOpened", "UpdateSubmitted", "RoundFinalized"} <= names
    assert decoded == [by_name[event["event"]].process_log(log) for event, log in zip(decoded, logs, strict=True)]


def test_an_unknown_topic_is_none_and_a_dynamic_indexed_input_is_refused() -> None:
    abi = [{"type": "event", "name": "Named", "anonymous": False,
            "inputs": [{"name": "who", "type": "address", "indexed": True}]}]
    assert EventDecoder(abi).decode({"topics": [bytes(32)], "data": b""}) is None
    dynamic = [{**abi[0], "inputs": [{"name": "text", "type": "string", "indexed": True}]}]
    with pytest.raises(ValueError, match="dynamic indexed input"):
        EventDecoder(dynamic)
