"""The one loop a client runs, in plain and secure rounds alike (the headless client and the demo's
secure participants): read the round from the chain, ask the engine, act.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from chain.contract import ParticipantStatus
from client.secure import SecureParticipant
from client.service import Client
from mlprocessor.data import DataError
from protocol.engine import Act, Decision, RoundView, participant_decision
from protocol.outages import TRANSIENT_ERRORS, one_line
from protocol.secure.public_round import RecordIncompleteError
from storage.model_file import ModelFileError

FINISHED = (ParticipantStatus.SUBMITTED, ParticipantStatus.REVEALED)


class ParticipantDriver:
    """Drives one client; `secure`: it takes part in secure rounds too (it has a key of its own);
    `drop_out` makes it join secure rounds and never submit (the demo's dropouts)."""

    def __init__(self, client: Client, secure: bool = False, drop_out: bool = False) -> None:
        self.client = client
        self.secure_rounds = secure
        self.drop_out = drop_out
        self._secure: SecureParticipant | None = None

    def secure(self) -> SecureParticipant:
        if self._secure is None:
            self._secure = SecureParticipant(self.client, self.drop_out)
        return self._secure

    def decide(self) -> tuple[RoundView | None, Decision]:
        contract, address = self.client.contract, self.client.address
        view = self.client.round_view()
        if view is None:
            return None, participant_decision(None, ParticipantStatus.NONE, False)
        round_id = view.info.round_id
        if view.secure and not self.secure_rounds:
            return view, Decision(Act.WAIT, "a secure round: this client runs without --secure-aggregation")
        status = contract.participant_status(round_id, address) if view.secure else ParticipantStatus.NONE
        answered = not view.secure and contract.client_info(address).last_round == round_id
        prepared = view.secure and self.secure().prepared(round_id)
        return view, participant_decision(view, status, answered, self.drop_out, prepared)

    def execute(self, view: RoundView | None, decision: Decision) -> bool:
        """Carry out one decision; True when this client is through with a round it took part in,
        also when the round ended before this client looked again (the reveal that completed it was its own)."""
        if view is None:
            return False
        if decision.act in (Act.WAIT, Act.DONE):
            return (decision.act is Act.DONE or not view.open) and self._took_part(view)
        round_id = view.info.round_id
        if not view.secure:  # TRAIN: a refused base counts as answered too, it is not retried
            self.client.participate(round_id)
            return True
        secure = self.secure()
        if decision.act is Act.JOIN:
            secure.join(round_id)
        elif decision.act is Act.SHARE:
            secure.share(round_id)
        elif decision.act is Act.PREPARE:
            secure.prepare(round_id)
        elif decision.act is Act.TRAIN:
            secure.submit(round_id)
        elif decision.act is Act.REVEAL:
            secure.reveal(round_id)
        return False

    def _took_part(self, view: RoundView) -> bool:
        if not view.secure:
            return self.client.contract.client_info(self.client.address).last_round == view.info.round_id
        return self.client.contract.participant_status(view.info.round_id, self.client.address) in FINISHED

    def run(self, poll_seconds: float = 1.0, should_stop: Callable[[], bool] = lambda: False,
            max_rounds: int | None = None) -> None:
        """Headless loop: register, then answer every round as the engine says, until `max_rounds` are over.

        A node or daemon restarting, a reverted transaction, a data file half written or a node
        whose logs lag the contract's counters cost one line and a retry, registration included."""
        registered, finished = False, set()
        while not should_stop() and (max_rounds is None or len(finished) < max_rounds):
            try:
                if not registered:
                    self.client.ensure_registered()
                    registered = True
                view, decision = self.decide()
                if self.execute(view, decision) and view is not None and view.info.round_id not in finished:
                    finished.add(view.info.round_id)  # look again at once; a round already counted waits a poll
                    continue
            except (*TRANSIENT_ERRORS, ModelFileError, DataError, RecordIncompleteError) as error:
                self.client.log(f"client {self.client.address}: cannot take part yet: {one_line(error)}")
            time.sleep(poll_seconds)
