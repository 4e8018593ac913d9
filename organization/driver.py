"""The one loop that runs an organization's rounds, plain or secure, for every front end.

The headless service, the web node's automatic switch and the demo all read the chain through
`decide` (protocol.engine) and act through `execute`; only how they wait differs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from chain.contract import RoundState
from chain.transactions import TxResult
from organization.secure import SecureRounds, SecureSettings
from organization.service import Organization, RoundOutcome
from protocol.engine import Act, Decision, RoundView, organization_decision, read_view
from protocol.outages import TRANSIENT_ERRORS, one_line


class RoundDriver:
    """Drives `organization`'s rounds; with `secure` settings it opens secure rounds (a round of
    the other kind left open before a restart is still closed by its own rules)."""

    def __init__(self, organization: Organization, secure: SecureSettings | None = None) -> None:
        self.organization = organization
        self.secure_settings = secure
        self._secure = SecureRounds(organization, secure) if secure is not None else None

    def decide(self) -> tuple[RoundView | None, Decision]:
        view = read_view(self.organization.contract)
        return view, organization_decision(view, self.organization.settings.target)

    def execute(self, view: RoundView | None, decision: Decision) -> RoundOutcome | None:
        """Carry out one decision; the outcome when a round was closed (or its close postponed)."""
        organization = self.organization
        if decision.act is Act.OPEN:
            self.open_round()
            return None
        assert view is not None
        round_id = view.info.round_id
        if decision.act is Act.SCREEN:
            organization.screen_landed(round_id)
        if decision.act in (Act.SCREEN, Act.WAIT):
            organization.contract.chain.tick()
            return None
        if decision.act is Act.REVIEW:
            return self.secure_rounds().review(round_id)
        if decision.act is Act.CLOSE:
            return self.secure_rounds().close(round_id) if view.secure else organization.close_round(round_id)
        if decision.act is Act.ABORT:
            return (self.secure_rounds() if view.secure else organization).abort(round_id, decision.reason)
        raise ValueError(f"the organization cannot {decision.act}")

    def open_round(self) -> tuple[int, TxResult]:
        """Open the next round of this driver's kind; its id and the opening transaction."""
        return (self._secure.open_round if self._secure else self.organization.open_round)()

    def finish(self, round_id: int, poll_seconds: float = 1.0) -> RoundOutcome:
        """Step through round `round_id` as the engine says (screen, wait for its window or
        deadline, review, close or abort) until it is over: how the demo ends a round its clients answered."""
        while True:
            view, decision = self.decide()
            if view is None or view.info.round_id != round_id or decision.act is Act.OPEN:
                raise RuntimeError(f"round {round_id} is no longer the open round: another organization process?")
            outcome = self.execute(view, decision)
            if outcome is not None and outcome.state is not RoundState.OPEN:
                return outcome
            if outcome is not None:  # a review or close postponed by a store outage: wait, then try again
                time.sleep(poll_seconds)

    def secure_rounds(self) -> SecureRounds:
        """The secure-round rules, also in plain mode for a secure round left open before a restart."""
        if self._secure is None:
            self._secure = SecureRounds(self.organization, SecureSettings())
        return self._secure

    def step(self) -> RoundOutcome | None:
        return self.execute(*self.decide())

    def run(self, rounds: int, poll_seconds: float = 1.0, on_outcome: Callable[[RoundOutcome], None] | None = None,
            should_stop: Callable[[], bool] = lambda: False) -> None:
        """Run until `rounds` rounds are closed, resuming an open round first (restart safety).

        Chain and store problems cost one log line and a retry; settings that cannot work raise
        RoundSettingsError before any round is opened with them."""
        self.organization.settings.check()
        closed = 0
        while closed < rounds and not should_stop():
            try:
                outcome = self.step()
            except TRANSIENT_ERRORS as error:
                self.organization.log(f"organization: {one_line(error)}; retrying in {poll_seconds:g}s")
                time.sleep(poll_seconds)
                continue
            if outcome is None or outcome.state is RoundState.OPEN:
                time.sleep(poll_seconds)
                continue
            closed += 1
            if on_outcome:
                on_outcome(outcome)
