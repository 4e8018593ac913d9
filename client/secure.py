"""A client's part in secure-aggregation rounds: join, submit a masked update, reveal seeds for the dropped.

Each step is decided from the chain alone (the round's phases and this account's status in it),
so a restarted client picks up where it was. The client never publishes its plain update: the
file on IPFS is its sample-weighted delta in fixed point plus one mask per other participant.
"""

from __future__ import annotations

from dataclasses import dataclass

from chain.contract import ParticipantStatus
from chain.errors import DeadlinePassed, NoDropouts, RoundNotOpen
from client.keys import load_or_create_keys
from client.service import Client, Participation, RefusedBase
from client.state import HistoryEntry
from protocol.engine import Act, RoundView, participant_decision
from protocol.secure.keys import RoundContext
from protocol.secure.masked_file import encode_masked
from protocol.secure.participant import mask_delta, reveal_for
from protocol.secure.public_round import read_secure_round, registered_keys
from protocol.secure.reveal import SeedReveal, encode_reveal
from storage.model_file import expected_spec


@dataclass(frozen=True)
class SecureStep:
    """What one look at a secure round did: an action taken, a wait, or why nothing more will happen."""

    round_id: int
    action: str  # joined, submitted, revealed, waiting, done, dropped, skipped
    detail: str = ""


class SecureParticipant:
    """One client in secure rounds; `drop_out` makes it join and never submit (the demo's dropouts)."""

    def __init__(self, client: Client, drop_out: bool = False) -> None:
        self.client = client
        self.contract = client.contract
        self.keys = load_or_create_keys(client.state.directory)
        self.drop_out = drop_out

    @property
    def address(self) -> str:
        return self.client.address

    def context(self, round_id: int) -> RoundContext:
        return RoundContext(self.contract.chain.web3.eth.chain_id, self.contract.address, round_id)

    def step(self, round_id: int) -> SecureStep:
        """Take the action the round's current phase asks of this client, if any (protocol.engine)."""
        view = RoundView(self.contract.round(round_id), self.contract.block_number(),
                         self.contract.secure_round(round_id))
        if view.phases is None:
            return SecureStep(round_id, "done", f"round {round_id} is not a secure round")
        status = self.contract.participant_status(round_id, self.address)
        decision = participant_decision(view, status, answered=False, drop_out=self.drop_out)
        if decision.act is Act.JOIN:
            return self.join(round_id)
        if decision.act is Act.TRAIN:
            return self.submit(round_id).step
        if decision.act is Act.REVEAL:
            return self.reveal(round_id)
        dropped = status is ParticipantStatus.JOINED and decision.act is Act.DONE
        return SecureStep(round_id, "dropped" if dropped else decision.act.value, decision.reason)

    def join(self, round_id: int) -> SecureStep:
        """Join, unless this account's registered key is not this client's (its update would not be masked)."""
        deadlines = self.contract.secure_round(round_id).deadlines
        registered = registered_keys(self.contract, [self.address.lower()], deadlines.join)[self.address.lower()]
        if registered != self.keys.public_bytes():
            why = ("this account registered without this client's X25519 key, so its update could not be masked; "
                   "register it from this client's home")
            self.client.log(f"client {self.address}: not joining secure round {round_id}: {why}")
            return SecureStep(round_id, "skipped", why)
        try:
            self.contract.join_round(round_id)
        except (DeadlinePassed, RoundNotOpen) as closed:
            return SecureStep(round_id, "skipped", str(closed))
        self.client.log(f"client {self.address}: joined secure round {round_id}")
        return SecureStep(round_id, "joined")

    def submit(self, round_id: int) -> SecureSubmission:
        """Train, mask for the round's fixed participant set, publish and record the masked update."""
        participation = Participation(round_id)
        timer = participation.timer
        with timer.phase("chain"):
            info = self.contract.round(round_id)
            record = read_secure_round(self.contract, round_id)
        assert record is not None and info.base_cid is not None
        try:
            trained = self.client.train(info, timer)
        except RefusedBase as refusal:
            participation.skipped = str(refusal)
            return SecureSubmission(SecureStep(round_id, "dropped", str(refusal)), participation, 0)
        samples = min(len(self.client.data), info.max_samples)
        with timer.phase("serialization"):
            masked, clipped = mask_delta(trained.result.delta(trained.base.tensors), samples,
                                         trained.base.metadata.architecture, expected_spec(trained.base.tensors),
                                         str(info.base_cid), self.keys,
                                         self.context(round_id), self.address, record.participants)
            data = encode_masked(masked)
        if clipped:
            self.client.log(f"client {self.address}: {clipped} coordinates of the update were clipped to the "
                            "fixed-point bound")
        with timer.phase("ipfs"):
            cid = self.client.store.add_bytes(data)
        try:
            with timer.phase("chain"):
                receipt = self.contract.submit_masked_update(round_id, cid, samples)
        except (DeadlinePassed, RoundNotOpen) as closed:
            participation.skipped = str(closed)
            return SecureSubmission(SecureStep(round_id, "dropped", str(closed)), participation, len(data))
        participation.entry = HistoryEntry(
            round=round_id, base_cid=str(info.base_cid), update_cid=str(cid), samples=samples,
            tx_hash=receipt.tx_hash, gas_used=receipt.gas_used, train_loss=trained.result.stats.loss,
            local_accuracy_before=trained.accuracy_before, local_accuracy_after=trained.accuracy_after,
        )
        self.client.state.append_history(participation.entry)
        self.client.log(f"client {self.address}: round {round_id} submitted masked update {cid}")
        return SecureSubmission(SecureStep(round_id, "submitted", str(cid)), participation, len(data))

    def reveal_contents(self, round_id: int) -> SeedReveal:
        """The seeds shared with the participants that did not submit."""
        record = read_secure_round(self.contract, round_id)
        assert record is not None
        dropped = {address: record.participants[address] for address in record.dropped}
        return reveal_for(self.keys, self.context(round_id), self.address, dropped)

    def reveal(self, round_id: int) -> SecureStep:
        """Publish the seeds shared with the dropped participants and record their CID."""
        reveal = self.reveal_contents(round_id)
        cid = self.client.store.add_bytes(encode_reveal(reveal))
        try:
            result = self.contract.reveal_seeds(round_id, cid)
        except (DeadlinePassed, RoundNotOpen, NoDropouts) as refused:
            return SecureStep(round_id, "done", str(refused))
        self.client.log(f"client {self.address}: revealed its seeds with {len(reveal.seeds)} dropped participants "
                        f"in round {round_id}")
        return SecureStep(round_id, "revealed", f"{cid} (gas {result.gas_used})")


@dataclass(frozen=True)
class SecureSubmission:
    step: SecureStep
    participation: Participation
    update_bytes: int
