"""The client registry as the chain tells it: every address the owner allowed or that registered,
with its status now and the encryption key it registered with.

The contract keeps no list of clients (that would make gas grow with them), so the addresses
come from its `ClientAllowed` and `ClientRegistered` events (chain/logs.py reads them).
"""

from __future__ import annotations

from dataclasses import dataclass

from chain.contract import ClientStatus, FederatedLearningContract
from chain.logs import read_logs

_EVENTS = ("ClientAllowed", "ClientRegistered")


@dataclass(frozen=True)
class ClientRecord:
    address: str
    status: ClientStatus
    client_id: int  # 0 until it first registers
    last_round: int  # the last round it submitted to (0: none)
    encryption_key: bytes | None  # X25519 public key of its latest registration, if it gave one


def known_clients(contract: FederatedLearningContract) -> list[ClientRecord]:
    """Every client the owner allowed or that registered, in the order they first appeared."""
    decoder = contract.event_decoder
    topics = ["0x" + decoder.topic(name).hex() for name in _EVENTS]
    web3 = contract.chain.web3
    last = web3.eth.block_number
    keys: dict[str, bytes | None] = {}
    query = {"address": contract.address, "topics": [topics]}
    for log in read_logs(web3, query, contract.deployment_block(), last):
        event = decoder.decode(log)
        address = event["args"]["client"]
        if event["event"] == "ClientRegistered":
            key = bytes(event["args"]["encryptionKey"])
            keys[address] = key if any(key) else None
        else:
            keys.setdefault(address, None)
    records = []
    for address, key in keys.items():
        info = contract.client_info(address)
        records.append(ClientRecord(address, info.status, info.client_id, info.last_round, key))
    return records
