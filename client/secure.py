"""A client's part in secure-aggregation rounds: join, post shares, submit a double-masked update, reveal.

Each step is decided from the chain alone (the round's phases and this account's status in it),
so a restarted client picks up where it was. The client never publishes its plain update: the
file on IPFS is its sample-weighted delta in fixed point plus its self-mask plus one pairwise
mask per other participant. Which share it reveals for each other participant is decided from
the contract's state (`participantStatus` by eth_call), never from logs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TypeVar

from chain.contract import ParticipantStatus
from chain.errors import DeadlinePassed, DuplicateEncryptionKey, ReviewInProgress, RoundNotOpen
from client.keys import load_or_create_keys
from client.service import Client, LocalTraining, Participation, RefusedBase
from client.state import HistoryEntry
from protocol.engine import Act, RoundView, participant_decision
from protocol.secure.bounds import round_bounds
from protocol.secure.keys import RoundContext, joining_key_problem, round_secrets
from protocol.secure.masked_file import encode_masked
from protocol.secure.participant import mask_delta, reveal_shares
from protocol.secure.public_round import load_bundles, read_secure_round, registered_keys
from protocol.secure.shares import ShareReveal, deal, encode_bundle, encode_reveal
from storage.model_file import expected_spec

T = TypeVar("T")
SUBMITTED = (ParticipantStatus.SUBMITTED, ParticipantStatus.REVEALED)
DROPPED = (ParticipantStatus.SHARED, ParticipantStatus.EXCLUDED)  # members that get their key share


@dataclass(frozen=True)
class SecureStep:
    """What one look at a secure round did: an action taken, a wait, or why nothing more will happen."""

    round_id: int
    action: str  # joined, submitted, revealed, waiting, done, dropped, excluded, skipped
    detail: str = ""


class SecureParticipant:
    """One client in secure rounds; `drop_out` makes it join and never submit (the demo's dropouts)."""

    def __init__(self, client: Client, drop_out: bool = False) -> None:
        self.client = client
        self.contract = client.contract
        self.keys = load_or_create_keys(client.state.directory)
        self.drop_out = drop_out
        # training started ahead, per round: its step, timer (or refusal) and result
        self._ahead: dict[int, Future[tuple[SecureStep, Participation, LocalTraining | None]]] = {}

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
        decision = participant_decision(view, status, answered=False, drop_out=self.drop_out,
                                        prepared=self.prepared(round_id))
        if decision.act is Act.JOIN:
            return self.join(round_id)
        if decision.act is Act.SHARE:
            return self.share(round_id)
        if decision.act is Act.PREPARE:
            return self.prepare(round_id)
        if decision.act is Act.TRAIN:
            return self.submit(round_id).step
        if decision.act is Act.REVEAL:
            return self.reveal(round_id)
        if status is ParticipantStatus.EXCLUDED:
            return SecureStep(round_id, "excluded", decision.reason)
        dropped = status in (ParticipantStatus.JOINED, ParticipantStatus.SHARED) and decision.act is Act.DONE
        return SecureStep(round_id, "dropped" if dropped else decision.act.value, decision.reason)

    def join(self, round_id: int) -> SecureStep:
        """Join with this client's key, refusing before sending what the contract would refuse: a
        registered key that is not this client's (its update would not be masked), an unusable key,
        or one another participant already joined with (a copy of this client's public key)."""
        deadlines = self.contract.secure_round(round_id).deadlines
        own = self.keys.public_bytes()
        registered = registered_keys(self.contract, [self.address.lower()], deadlines.join)[self.address.lower()]
        record = read_secure_round(self.contract, round_id)
        assert record is not None
        why = None
        if registered != own:
            why = ("this account registered without this client's X25519 key, so its update could not be masked; "
                   "register it from this client's home")
        elif (problem := joining_key_problem(own)) is not None:
            why = f"this client's X25519 key cannot mask: {problem}"
        elif any(key == own for address, (_, key) in record.joined.items() if address != self.address.lower()):
            why = ("another participant already joined with this client's X25519 public key (a copy registered by "
                   "another account): the contract refuses a second participant with one key")
        if why is not None:
            self.client.log(f"client {self.address}: not joining secure round {round_id}: {why}")
            return SecureStep(round_id, "skipped", why)
        try:
            self.contract.join_round(round_id, own)
        except (DeadlinePassed, RoundNotOpen, DuplicateEncryptionKey) as refused:  # a copy joined in the same block
            return SecureStep(round_id, "skipped", str(refused))
        self.client.log(f"client {self.address}: joined secure round {round_id}")
        return SecureStep(round_id, "joined")

    def share(self, round_id: int) -> SecureStep:
        """Deal Shamir shares of this round's self-mask seed and masking key to every joined
        participant (encrypted to each), publish the bundle and post it with the masking key."""
        record = read_secure_round(self.contract, round_id, complete=True)
        assert record is not None
        context = self.context(round_id)
        secrets = round_secrets(self.keys, context, self.address)
        try:
            bundle = deal(self.keys, secrets, context, self.address, record.joined, record.phases.threshold)
        except ValueError as error:
            why = f"cannot deal shares with threshold {record.phases.threshold}: {error}"
            self.client.log(f"client {self.address}: not taking part in secure round {round_id}: {why}")
            return SecureStep(round_id, "skipped", why)
        cid = self.client.store.add_bytes(encode_bundle(bundle))
        try:
            self.contract.post_shares(round_id, secrets.masking.public_bytes(), cid)
        except (DeadlinePassed, RoundNotOpen) as closed:
            return SecureStep(round_id, "skipped", str(closed))
        self.client.log(f"client {self.address}: posted shares for {len(bundle.boxes)} participants in secure "
                        f"round {round_id}")
        return SecureStep(round_id, "shared", str(cid))

    def prepared(self, round_id: int) -> bool:
        """Whether this client started training for `round_id` ahead of its submission phase."""
        return round_id in self._ahead

    def prepare(self, round_id: int) -> SecureStep:
        """Start training on the round's base in the background while the participant and masking
        sets form: the client still posts its shares on time however long training takes on a loaded
        machine, and the submission phase then only masks and publishes."""
        self._ahead = {r: training for r, training in self._ahead.items() if r == round_id}  # one round at a time
        if round_id not in self._ahead:
            self._ahead[round_id] = in_background(lambda: self._train_ahead(round_id), f"train ahead, round {round_id}")
        return SecureStep(round_id, "training", "on the round's base, while the masking set forms")

    def trained_ahead(self, round_id: int) -> SecureStep | None:
        """Wait for the training started ahead for `round_id`: "trained", or "dropped" with the reason;
        None if none was started. A store outage during it is raised here, as in `submit`."""
        training = self._ahead.get(round_id)
        if training is None:
            return None
        try:
            return training.result()[0]
        except Exception:
            del self._ahead[round_id]  # an outage, say: the next look at the round trains again
            raise

    def _train_ahead(self, round_id: int) -> tuple[SecureStep, Participation, LocalTraining | None]:
        participation = Participation(round_id)
        info = self.contract.round(round_id)
        try:
            trained = self.client.train(info, participation.timer)
        except RefusedBase as refusal:
            participation.skipped = str(refusal)
            return SecureStep(round_id, "dropped", str(refusal)), participation, None
        deadline = self.contract.secure_round(round_id).deadlines.submit
        if self.contract.block_number() > deadline:
            took = sum(participation.timer.totals().values())
            participation.skipped = (f"secure round {round_id}: training took {took:.0f}s and outlasted the "
                                     f"submission phase (until block {deadline})")
            self.client.log(f"client {self.address}: {participation.skipped}")
            return SecureStep(round_id, "dropped", participation.skipped), participation, None
        self.client.log(f"client {self.address}: trained for secure round {round_id} while its masking set forms")
        return SecureStep(round_id, "trained"), participation, trained

    def submit(self, round_id: int) -> SecureSubmission:
        """Train (unless done ahead), clip to the base's published bound, mask for the round's fixed
        participant set, publish and record the masked update (claiming at most the published cap)."""
        ahead = self.trained_ahead(round_id)  # waits for the training started ahead, if any
        participation, trained = self._ahead.pop(round_id).result()[1:] if ahead else (Participation(round_id), None)
        timer = participation.timer
        with timer.phase("chain"):
            info = self.contract.round(round_id)
            record = read_secure_round(self.contract, round_id, complete=True)
        assert record is not None and info.base_cid is not None
        if participation.skipped is not None:
            return SecureSubmission(SecureStep(round_id, "dropped", participation.skipped), participation, 0)
        try:
            trained = trained or self.client.train(info, timer)
        except RefusedBase as refusal:
            participation.skipped = str(refusal)
            return SecureSubmission(SecureStep(round_id, "dropped", str(refusal)), participation, 0)
        context = self.context(round_id)
        try:
            bounds = round_bounds(trained.base.tensors, trained.base.metadata.extra,
                                  trained.task.screening.base_norm_fraction, info.max_samples)
            samples = min(len(self.client.data), bounds.max_samples)  # never claims above the published cap
            with timer.phase("serialization"):
                masked, clipped = mask_delta(trained.result.delta(trained.base.tensors), samples,
                                             trained.base.metadata.architecture,
                                             expected_spec(trained.base.tensors), str(info.base_cid),
                                             round_secrets(self.keys, context, self.address), context,
                                             self.address, record.masking_keys, bounds.clip)
                data = encode_masked(masked)
        except ValueError as refusal:
            participation.skipped = f"not submitting to secure round {round_id}: {refusal}"
            self.client.log(f"client {self.address}: {participation.skipped}")
            return SecureSubmission(SecureStep(round_id, "dropped", str(refusal)), participation, 0)
        if clipped:
            self.client.log(f"client {self.address}: {clipped} coordinates of the update were clipped to the "
                            f"round's published bound {bounds.clip:.4g}")
        with timer.phase("ipfs"):
            cid = self.client.store.add_bytes(data)
        try:
            with timer.phase("chain"):
                receipt = self.contract.submit_masked_update(round_id, cid, samples)
        except (DeadlinePassed, RoundNotOpen) as closed:
            participation.skipped = f"secure round {round_id}: masked update {cid} came too late: {closed}"
            self.client.log(f"client {self.address}: {participation.skipped}")
            return SecureSubmission(SecureStep(round_id, "dropped", str(closed)), participation, len(data))
        participation.entry = HistoryEntry(
            round=round_id, base_cid=str(info.base_cid), update_cid=str(cid), samples=samples,
            tx_hash=receipt.tx_hash, gas_used=receipt.gas_used, train_loss=trained.result.stats.loss,
            local_accuracy_before=trained.accuracy_before, local_accuracy_after=trained.accuracy_after,
        )
        self.client.state.append_history(participation.entry)
        self.client.log(f"client {self.address}: round {round_id} submitted masked update {cid}")
        return SecureSubmission(SecureStep(round_id, "submitted", str(cid)), participation, len(data))

    def reveal_contents(self, round_id: int) -> ShareReveal:
        """For every participant of the masking set, exactly one of its shares held by this client:
        the self-mask share if the contract records its masked update and did not exclude it, the key
        share if not (it never submitted, or the organization excluded its update in the review).

        Statuses are read by eth_call at one block after the review, when who submitted and who was
        excluded is final (the contract refuses late submissions, and exclusions once the review is
        over); a participant the node's logs do not show, or whose bundle cannot be read, simply gets
        no share from this client (others still reveal)."""
        record = read_secure_round(self.contract, round_id, complete=True)
        assert record is not None
        block = self.contract.block_number()  # read after the phases: the review was over by then if they say so
        if not record.phases.review_over(block):
            raise ReviewInProgress(roundId=round_id, reviewDeadline=record.phases.deadlines.review)
        bundles, problems = load_bundles(self.client.store, record)
        statuses = dict(zip(bundles, self.contract.participant_statuses(round_id, list(bundles), block), strict=True))
        submitted = {dealer: status in SUBMITTED for dealer, status in statuses.items()
                     if status in (*SUBMITTED, *DROPPED)}
        registered = {address: public for address, (_, public) in record.joined.items()}
        reveal, unopened = reveal_shares(self.keys, self.context(round_id), self.address, bundles, registered,
                                         submitted)
        for problem in problems + unopened:
            self.client.log(f"client {self.address}: round {round_id}: no share revealed for {problem}")
        return reveal

    def reveal(self, round_id: int) -> SecureStep:
        """Publish this client's reveal and record its CID."""
        reveal = self.reveal_contents(round_id)
        cid = self.client.store.add_bytes(encode_reveal(reveal))
        try:
            result = self.contract.reveal_shares(round_id, cid)
        except (DeadlinePassed, RoundNotOpen) as refused:
            return SecureStep(round_id, "done", str(refused))
        self.client.log(f"client {self.address}: revealed {len(reveal.self_shares)} self-mask and "
                        f"{len(reveal.key_shares)} key shares in round {round_id}")
        return SecureStep(round_id, "revealed", f"{cid} (gas {result.gas_used})")


@dataclass(frozen=True)
class SecureSubmission:
    step: SecureStep
    participation: Participation
    update_bytes: int


def in_background(work: Callable[[], T], name: str) -> Future[T]:
    """Run `work` on a daemon thread and return its future: a client stopped by Ctrl-C or SIGTERM
    ends at once, never waiting for a training it no longer needs."""
    future: Future[T] = Future()

    def run() -> None:
        future.set_running_or_notify_cancel()
        try:
            future.set_result(work())
        except BaseException as error:  # handed to whoever waits for the result
            future.set_exception(error)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future
