"""A secure round's public record, read from the chain and IPFS: what the organization, clients and verifiers use.

Participants and their share coordinates come from `ParticipantJoined` events, their X25519 keys
from their `ClientRegistered` events, round masking keys and share bundles from `SharesPosted`,
masked submissions from `UpdateSubmitted`, the review's exclusions from `MaskedUpdateExcluded`
and reveals from `SharesRevealed`; the counts are
checked against the contract's own counters (a node hiding a log is caught, not believed). Files
are fetched with a size cap and a deadline and checked against the chain: a masked update must
name this round, its base, the sample count recorded on-chain and its sender.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from chain.contract import ExclusionReason, FederatedLearningContract, SecurePhases
from chain.history import HistoryReader, SubmissionRecord
from chain.logs import read_logs
from protocol.artifacts import Artifact, max_update_bytes
from protocol.secure.keys import RoundContext
from protocol.secure.masked_file import MaskedFileError, MaskedUpdate, decode_masked
from protocol.secure.participant import expected_peers
from protocol.secure.shares import (
    MAX_BYTES as MAX_BUNDLE_BYTES,
)
from protocol.secure.shares import (
    MAX_REVEAL_BYTES,
    ShareBundle,
    ShareReveal,
    decode_bundle,
    decode_reveal,
)
from protocol.secure.unmask import MaskingSet
from storage.cid import Cid
from storage.model_file import ModelFileError, expected_spec
from storage.store import ContentNotFoundError, ContentStore, ContentTooLargeError, StorageError

MASKED_FETCH_SECONDS = 60.0  # one masked update gets this long to arrive, whatever its size
SHARE_FETCH_SECONDS = 20.0  # one share bundle or reveal


class RecordIncompleteError(RuntimeError):
    """The node's logs disagree with the contract's counters: a log is missing (lagging or hiding node)."""


@dataclass(frozen=True)
class SecureRoundRecord:
    round_id: int
    base_cid: Cid
    phases: SecurePhases
    context: RoundContext
    joined: dict[str, tuple[int, bytes]]  # lower-case address -> (join index, registered X25519 key)
    masking_keys: dict[str, bytes]  # who posted shares -> its round masking public key
    bundle_cids: dict[str, Cid]  # who posted shares -> CID of its share bundle
    submissions: list[SubmissionRecord]  # masked updates, in on-chain order, the excluded ones too
    reveals: list[tuple[str, Cid]] = field(default_factory=list)  # (revealer, CID), in on-chain order
    excluded: dict[str, ExclusionReason] = field(default_factory=dict)  # excluded in the review -> why

    @property
    def survivors(self) -> list[SubmissionRecord]:
        """The masked updates that are summed: those not excluded in the review, in on-chain order."""
        return [s for s in self.submissions if s.client.lower() not in self.excluded]

    @property
    def dropped(self) -> list[str]:
        """Members of the masking set without a summed masked update: never submitted, or excluded."""
        summed = {s.client.lower() for s in self.survivors}
        return [address for address in self.masking_keys if address not in summed]

    @property
    def total_samples(self) -> int:
        return sum(s.samples for s in self.survivors)

    @property
    def exclusions_hidden(self) -> bool:
        """Whether the node's logs show fewer exclusions than the contract counts (a lagging or
        hiding node): summing an excluded update would then make the unmasking fail."""
        return len(self.excluded) < self.phases.excluded

    def setup(self) -> MaskingSet:
        return MaskingSet(self.context, {a: index for a, (index, _) in self.joined.items()}, self.masking_keys,
                          self.phases.threshold)


def read_secure_round(contract: FederatedLearningContract, round_id: int, complete: bool = False,
                      ) -> SecureRoundRecord | None:
    """The round's public record, or None when it is not a secure round. `complete`: raise
    RecordIncompleteError when the logs hold fewer joins, share posts or exclusions than the contract counts."""
    phases = contract.secure_round(round_id)
    if phases is None:
        return None
    reader = HistoryReader(contract)
    events = reader.events(round_id)
    record = reader.round(round_id, with_gas=False)
    assert record is not None
    joined = {e["args"]["client"].lower(): int(e["args"]["index"]) for e in events
              if e["event"] == "ParticipantJoined"}
    posted = [e["args"] for e in events if e["event"] == "SharesPosted"]
    if complete and (len(joined) < phases.joined or len(posted) < phases.shared
                     or len(record.excluded) < phases.excluded):
        raise RecordIncompleteError(f"round {round_id}: the node shows {len(joined)} joins, {len(posted)} share "
                                    f"posts and {len(record.excluded)} exclusions, the contract counts "
                                    f"{phases.joined}, {phases.shared} and {phases.excluded}; retrying")
    keys = registered_keys(contract, list(joined), phases.deadlines.join)
    context = RoundContext(contract.chain.web3.eth.chain_id, contract.address, round_id)
    return SecureRoundRecord(
        round_id, record.base_cid, phases, context, {a: (i, keys[a]) for a, i in joined.items()},
        {a["client"].lower(): bytes(a["maskingKey"]) for a in posted},
        {a["client"].lower(): Cid(bytes(a["cid"])) for a in posted}, record.submissions,
        [(e["args"]["client"].lower(), Cid(bytes(e["args"]["cid"]))) for e in events if e["event"] == "SharesRevealed"],
        record.excluded)


def registered_keys(contract: FederatedLearningContract, clients: list[str], until_block: int) -> dict[str, bytes]:
    """The X25519 key each client had registered by `until_block` (32 zero bytes for none).

    A client registers once, but one the owner removed and allowed again registers anew, maybe
    with another key: the key of a round is the one registered when its join phase ended.
    """
    keys = dict.fromkeys(clients, bytes(32))
    if not clients:
        return keys
    topic = "0x" + contract.event_decoder.topic("ClientRegistered").hex()
    wanted = ["0x" + bytes(12).hex() + client.lower().removeprefix("0x") for client in clients]  # indexed: padded
    query = {"address": contract.address, "topics": [topic, wanted]}
    last = min(until_block, contract.block_number())
    for log in read_logs(contract.chain.web3, query, contract.deployment_block(), last):
        decoded = contract.event_decoder.decode(log)
        keys[decoded["args"]["client"].lower()] = bytes(decoded["args"]["encryptionKey"])
    return keys


def load_masked_update(store: ContentStore, record: SecureRoundRecord, submission: SubmissionRecord,
                       base: Artifact) -> MaskedUpdate:
    """One masked update, checked against what the chain recorded for it (round, base, sample count,
    sender) and against the masking set it must share masks with."""
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
    elif update.peers != expected_peers(record.masking_keys, update.client):
        problems.append("it does not share masks with exactly the other participants of the masking set")
    if problems:
        raise MaskedFileError(f"masked update {submission.index} ({submission.client}): " + "; ".join(problems))
    return update


def exclusion_reason(error: StorageError | ModelFileError) -> ExclusionReason | None:
    """Why a masked update that `load_masked_update` refused with `error` can be excluded, or None
    when the store is at fault (unreachable, or serving bytes that do not match the CID): an outage
    is never a reason. MISSING holds only while the store still serves the round's base."""
    if isinstance(error, ContentTooLargeError):
        return ExclusionReason.OVERSIZED
    if isinstance(error, ModelFileError):
        return ExclusionReason.MALFORMED
    return ExclusionReason.MISSING if isinstance(error, ContentNotFoundError) else None


class _RoundFile(Protocol):
    round_id: int


T = TypeVar("T", bound=_RoundFile)


def load_bundles(store: ContentStore, record: SecureRoundRecord) -> tuple[dict[str, ShareBundle], list[str]]:
    """The usable share bundles by dealer, and one line per unusable one (missing, oversized, malformed)."""
    usable, problems = _fetch_share_files(store, record, record.bundle_cids.items(), "share bundle",
                                          MAX_BUNDLE_BYTES, decode_bundle, lambda bundle: bundle.dealer)
    return dict(usable), problems


def load_reveals(store: ContentStore, record: SecureRoundRecord) -> tuple[list[ShareReveal], list[str]]:
    """The usable reveals in on-chain order, and one line per unusable one (left out: any `threshold`
    valid shares rebuild the same secret, so a reveal one party cannot fetch changes no result)."""
    usable, problems = _fetch_share_files(store, record, record.reveals, "reveal", MAX_REVEAL_BYTES,
                                          decode_reveal, lambda reveal: reveal.revealer)
    return [reveal for _, reveal in usable], problems


def _fetch_share_files(store: ContentStore, record: SecureRoundRecord, published: Iterable[tuple[str, Cid]],
                       kind: str, max_bytes: int, decode: Callable[[bytes], T],
                       author_of: Callable[[T], str]) -> tuple[list[tuple[str, T]], list[str]]:
    """Each party's file fetched with a size cap and a time limit, decoded, and kept only when it is
    for this round and by the party that published it; one line per file left out."""
    usable, problems = [], []
    for party, cid in published:
        try:
            item = decode(store.get_bounded(cid, max_bytes, SHARE_FETCH_SECONDS))
        except (StorageError, ModelFileError) as error:
            problems.append(f"{party}'s {kind} {cid}: {error}")
            continue
        if item.round_id != record.round_id or author_of(item) != party:
            problems.append(f"{party}'s {kind} {cid} is for round {item.round_id} by {author_of(item)}")
            continue
        usable.append((party, item))
    return usable, problems


def round_gas(contract: FederatedLearningContract, round_id: int) -> dict[str, int]:
    """Gas of every transaction of a round, summed by the first event each emitted (RoundOpened,
    ParticipantJoined, SharesPosted, UpdateSubmitted, SharesRevealed, RoundFinalized or RoundAborted), and in total."""
    firsts: dict[str, str] = {}
    for event in HistoryReader(contract).events(round_id):
        firsts.setdefault(event["transactionHash"].to_0x_hex(), event["event"])
    totals: dict[str, int] = {}
    for tx_hash, name in firsts.items():
        used = contract.chain.web3.eth.get_transaction_receipt(tx_hash)["gasUsed"]
        totals[name] = totals.get(name, 0) + used
    totals["total"] = sum(totals.values())
    return totals
