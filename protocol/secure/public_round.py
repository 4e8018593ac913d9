"""A secure round's public record, read from the chain and IPFS: what the organization and verifiers use.

Participants come from `ParticipantJoined` events, their X25519 keys from their `ClientRegistered`
events, masked submissions from `UpdateSubmitted` and seed reveals from `SeedsRevealed`. Files are
checked against the chain: a masked update must name this round, its base, the sample count
recorded on-chain and its sender; a reveal must name this round and its revealer.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils import event_abi_to_log_topic

from chain.contract import FederatedLearningContract, SecurePhases
from chain.history import HistoryReader, SubmissionRecord
from chain.logs import read_logs
from protocol.artifacts import Artifact, max_update_bytes
from protocol.secure.masked_file import MaskedFileError, MaskedUpdate, decode_masked
from protocol.secure.reveal import RevealFileError, SeedReveal, decode_reveal
from storage.cid import Cid
from storage.model_file import expected_spec
from storage.store import ContentStore

MASKED_FETCH_SECONDS = 60.0  # one masked update gets this long to arrive, whatever its size


@dataclass(frozen=True)
class SecureRoundRecord:
    round_id: int
    base_cid: Cid
    phases: SecurePhases
    participants: dict[str, bytes]  # lower-case address -> registered X25519 key, in join order
    submissions: list[SubmissionRecord]  # masked updates, in on-chain order
    reveals: dict[str, Cid]  # survivor -> CID of its seed reveal

    @property
    def dropped(self) -> list[str]:
        submitted = {s.client.lower() for s in self.submissions}
        return [address for address in self.participants if address not in submitted]

    @property
    def total_samples(self) -> int:
        return sum(s.samples for s in self.submissions)


def read_secure_round(contract: FederatedLearningContract, round_id: int) -> SecureRoundRecord | None:
    """The round's public record, or None when it is not a secure round."""
    phases = contract.secure_round(round_id)
    if phases is None:
        return None
    reader = HistoryReader(contract)
    events = reader.events(round_id)
    record = reader.round(round_id, with_gas=False)
    assert record is not None
    joined = [e["args"]["client"].lower() for e in events if e["event"] == "ParticipantJoined"]
    reveals = {e["args"]["client"].lower(): Cid(bytes(e["args"]["cid"]))
               for e in events if e["event"] == "SeedsRevealed"}
    keys = registered_keys(contract, joined, phases.deadlines.join)
    return SecureRoundRecord(round_id, record.base_cid, phases, {a: keys[a] for a in joined},
                             record.submissions, reveals)


def registered_keys(contract: FederatedLearningContract, clients: list[str], until_block: int) -> dict[str, bytes]:
    """The X25519 key each client had registered by `until_block` (32 zero bytes for none).

    A client registers once, but one the owner removed and allowed again registers anew, maybe
    with another key: the key of a round is the one registered when its join phase ended.
    """
    keys = dict.fromkeys(clients, bytes(32))
    if not clients:
        return keys
    event = contract.web3_contract.events.ClientRegistered()
    topic = "0x" + event_abi_to_log_topic(event.abi).hex()
    wanted = ["0x" + bytes(12).hex() + client.lower().removeprefix("0x") for client in clients]  # indexed: padded
    query = {"address": contract.address, "topics": [topic, wanted]}
    last = min(until_block, contract.block_number())
    for log in read_logs(contract.chain.web3, query, contract.deployment_block(), last):
        decoded = event.process_log(log)
        keys[decoded["args"]["client"].lower()] = bytes(decoded["args"]["encryptionKey"])
    return keys


def load_masked_update(store: ContentStore, record: SecureRoundRecord, submission: SubmissionRecord,
                       base: Artifact) -> MaskedUpdate:
    """One masked update, checked against what the chain recorded for it."""
    update = decode_masked(store.get_bounded(submission.cid, max_update_bytes(base_spec := expected_spec(base.tensors)),
                                           MASKED_FETCH_SECONDS),
                           base_spec, base.metadata.architecture)
    problems = []
    if update.round_id != record.round_id:
        problems.append(f"it is for round {update.round_id}, not {record.round_id}")
    if update.base_cid != str(record.base_cid):
        problems.append(f"it applies to base {update.base_cid}, not {record.base_cid}")
    if update.sample_count != submission.samples:
        problems.append(f"it claims {update.sample_count} samples, the chain records {submission.samples}")
    if update.client != submission.client.lower():
        problems.append(f"it names {update.client} as its sender, not {submission.client}")
    if problems:
        raise MaskedFileError(f"masked update {submission.index} ({submission.client}): " + "; ".join(problems))
    return update


def load_reveals(store: ContentStore, record: SecureRoundRecord) -> dict[str, SeedReveal]:
    reveals = {}
    for revealer, cid in record.reveals.items():
        reveal = decode_reveal(store.get(cid))
        if reveal.round_id != record.round_id or reveal.revealer != revealer:
            raise RevealFileError(f"the seed reveal of {revealer} is for round {reveal.round_id} by "
                                  f"{reveal.revealer}, not round {record.round_id} by {revealer}")
        reveals[revealer] = reveal
    return reveals


def round_gas(contract: FederatedLearningContract, round_id: int) -> dict[str, int]:
    """Gas of every transaction of a round, summed by the first event each emitted (RoundOpened,
    ParticipantJoined, UpdateSubmitted, SeedsRevealed, RoundFinalized or RoundAborted), and in total."""
    firsts: dict[str, str] = {}
    for event in HistoryReader(contract).events(round_id):
        firsts.setdefault(event["transactionHash"].to_0x_hex(), event["event"])
    totals: dict[str, int] = {}
    for tx_hash, name in firsts.items():
        used = contract.chain.web3.eth.get_transaction_receipt(tx_hash)["gasUsed"]
        totals[name] = totals.get(name, 0) + used
    totals["total"] = sum(totals.values())
    return totals
