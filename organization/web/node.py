"""The organization's service as the web interface drives it: views for the pages, locked actions,
aggregation in the background, and an optional automatic round loop."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from chain.contract import RoundInfo, RoundKind, RoundState
from mlprocessor.data import Dataset
from mlprocessor.task_registry import TaskRef
from organization.driver import RoundDriver
from organization.secure import SecureSettings
from organization.service import Organization, OrganizationSettings, RoundOutcome
from organization.web.journal import RoundJournal, journal_path
from protocol.engine import Act, Decision, read_view
from protocol.errors import UserError
from protocol.outages import RoundSettingsError
from protocol.plan import StrategySpec
from protocol.secure.aggregate import SECURE_STRATEGIES
from storage.cid import Cid
from storage.store import ContentStore
from webui.errors import InvalidInput
from webui.explorer import Explorer, model_size_cap, task_json
from webui.jobs import Job
from webui.link import ChainLink
from webui.node import ServiceNode, deadline_view, phases_view

# The one tunable parameter of each rule, as the open-round form names it.
# What manual mode still does by itself: duties that decide nothing (a wait mines a block on a dev chain).
MANUAL_DUTIES = (Act.SCREEN, Act.REVIEW, Act.WAIT)
STRATEGY_PARAMETER = {"fedprox": "mu", "trimmed-mean": "beta", "krum": "f", "multi-krum": "f"}


def strategy_spec(name: str, parameter: float | None) -> StrategySpec:
    """A validated rule: unknown names and out-of-range parameters raise InvalidInput."""
    key = STRATEGY_PARAMETER.get(name)
    params: dict[str, float] = {}
    if key and parameter is not None:
        params[key] = int(parameter) if key == "f" else parameter
    spec = StrategySpec(name, params)
    try:
        spec.build()
    except (ValueError, TypeError) as error:
        raise InvalidInput(f"strategy {name}: {error}") from None
    return spec


class OrganizationNode(ServiceNode):
    automatic = "rounds"

    def __init__(self, link: ChainLink, store: ContentStore, settings: OrganizationSettings,
                 test_data: Dataset | None, journal_dir: Path, poll_seconds: float = 1.0,
                 log: Callable[[str], None] = print, secure: SecureSettings | None = None) -> None:
        super().__init__(link, store, poll_seconds, log)
        self.settings = settings
        self.secure = secure  # the kind of round the automatic switch opens: the last one opened by hand
        self.test_data = test_data
        self.journal_dir = journal_dir
        self.initial_cid: Cid | None = None
        self._lock = threading.RLock()  # one state-changing action at a time: one nonce sequence
        self._organization: Organization | None = None
        self._journal: RoundJournal | None = None
        self.explorer = Explorer(link, store, self._journal_reasons, model_size_cap(settings.task),
                                 lambda round_id: self.journal().entry(round_id).get("reason"))
        self.task = task_json(TaskRef.of(settings.task))  # what this organization's plans pin

    def _journal_reasons(self, round_id: int) -> dict[int, str]:
        """Rejection reasons this service noted, for results that do not publish them."""
        rejections = self.journal().entry(round_id).get("rejections", {})
        return {int(index): reason for index, reason in rejections.items()}

    def organization(self) -> Organization:
        """The service on the deployed contract (UserError until there is one)."""
        contract = self.link.require_contract()
        if self._organization is None or self._organization.contract is not contract:
            self._organization = Organization(contract, self.store, self.settings, self.test_data, self.log)
            self._journal = RoundJournal(journal_path(self.journal_dir, contract))
        return self._organization

    def journal(self) -> RoundJournal:
        self.organization()
        assert self._journal is not None
        return self._journal

    def defaults(self) -> OrganizationSettings:
        """What the open-round form starts from: the last round's choices, else the command line's."""
        return self._organization.settings if self._organization else self.settings

    def secure_defaults(self) -> SecureSettings:
        """What the secure-round form starts from: the last secure round's settings, else the defaults."""
        return self.secure or SecureSettings()

    def driver(self) -> RoundDriver:
        """The one round driver of the headless organization, opening rounds of the last kind opened."""
        return RoundDriver(self.organization(), self.secure)

    # ---------------------------------------------------------------- views

    def status(self) -> dict[str, Any]:
        view, block = self.base_status()
        view.update(initial_model_cid=str(self.initial_cid) if self.initial_cid else None, task=self.task,
                    contract=None, round=None, history_key=None)
        if block is None:  # the chain does not answer: the last known contract and round, marked stale
            return self.last_known(view, ("contract", "round", "history_key"))
        contract = self.link.contract()
        if contract is None:
            return view
        count, clients = contract.round_count(), contract.client_count()
        view["contract"] = {"address": contract.address, "owner": contract.owner(), "clients": clients,
                            "registration_open": contract.registration_open(), "rounds": count}
        latest = contract.round(count) if count else None
        if latest is not None and latest.state is RoundState.OPEN:
            phases = contract.secure_round(latest.round_id)
            view["round"] = {"round": latest.round_id, "base_cid": str(latest.base_cid), "quorum": latest.quorum,
                             **deadline_view(latest.deadline, block), "submissions": latest.submissions,
                             "secure": phases_view(phases, latest.submissions, block) if phases else None}
            if phases:  # what the round engine waits for, or that the round can be closed or must be aborted
                decision = self.driver().decide()[1]
                view["round"]["next"] = {"act": str(decision.act), "reason": decision.reason}
        # Changes whenever the history or the client list does: the page re-reads them only then.
        view["history_key"] = f"{count}:{latest and latest.state}:{latest and latest.submissions}:{clients}"
        if view["round"] and view["round"]["secure"]:  # joins, share posts and reveals change the history too
            phases = view["round"]["secure"]
            view["history_key"] += f":{phases['joined']}:{phases['shared']}:{phases['revealed']}"
        return self.remember(view)

    # ---------------------------------------------------------------- actions

    def deploy(self) -> str:
        with self._lock:
            contract = self.link.deploy(self.log)
        return f"deployed FederatedLearning at {contract.address}"

    def publish_initial_model(self) -> str:
        with self._lock:
            self.initial_cid = self.organization().initial_model_cid()
        return f"initial {self.settings.task} model published as {self.initial_cid}"

    def open_round(self, deadline_blocks: int, quorum: int, strategy: StrategySpec) -> str:
        self.jobs.require_idle()
        return self._open_with(replace(self.defaults(), deadline_blocks=deadline_blocks, quorum=quorum,
                                       target=quorum, strategy=strategy), None)

    def open_secure_round(self, secure: SecureSettings, max_samples: int) -> str:
        """Open a secure round with these phases and threshold; later automatic rounds keep them.
        FedAvg unless the last rule was FedProx: the rules that weigh updates without seeing them."""
        self.jobs.require_idle()
        defaults = self.defaults()
        strategy = defaults.strategy if defaults.strategy.name in SECURE_STRATEGIES else StrategySpec()
        return self._open_with(replace(defaults, max_samples=max_samples, strategy=strategy), secure)

    def _open_with(self, settings: OrganizationSettings, secure: SecureSettings | None) -> str:
        """Open a round of the kind `secure` says with `settings`, which later rounds keep; settings
        no round could finish with are refused and change nothing."""
        with self._lock:
            organization = self.organization()
            previous, previous_secure = organization.settings, self.secure
            organization.settings, self.secure = settings, secure
            try:
                tx_hash = self._open(self.driver())
            except RoundSettingsError as error:  # e.g. krum's f too large for the quorum
                organization.settings, self.secure = previous, previous_secure
                raise InvalidInput(str(error)) from None
        return f"{self.last_line} (strategy {settings.strategy.name}, tx {tx_hash})"

    def _open(self, driver: RoundDriver) -> str:
        round_id, result = driver.open_round()
        self.journal().record_strategy(round_id, driver.organization.settings.strategy)
        return result.tx_hash

    def _current(self) -> RoundInfo:
        info = self.organization().current_round()
        if info is None:
            raise UserError("no round is open: open one first")
        return info

    def aggregate(self) -> Job:
        """Close the open round in the background: fetch, validate, aggregate, evaluate, finalize
        (a secure round: unmask and finalize, once the round engine says its reveals allow it)."""
        self.jobs.require_idle()
        with self._lock:
            info = self._current()
            if info.kind is RoundKind.SECURE:
                decision = self.driver().decide()[1]
                if decision.act is not Act.CLOSE:
                    advice = "abort it" if decision.act is Act.ABORT else "wait"
                    raise UserError(f"secure round {info.round_id} cannot be unmasked now ({decision.reason}): "
                                    f"{advice}")
                return self._start_close(info.round_id)
            if info.submissions < info.quorum:
                raise UserError(f"round {info.round_id} has {info.submissions} of its {info.quorum} required "
                                "updates: wait for more, or abort it")
            block = self.organization().contract.block_number()
            if not info.submissions_closed and block < info.closable_at and block <= info.deadline:
                raise UserError(f"round {info.round_id} collects until block {info.closable_at} (its collection "
                                f"window; now block {block}): honest clients may still answer")
            return self._start_close(info.round_id)

    def _start_close(self, round_id: int) -> Job:
        return self.jobs.start(f"aggregating round {round_id}", f"aggregating round {round_id}…",
                               lambda: self._close(round_id))

    def _close(self, round_id: int) -> str:
        """Close through the round driver, as the headless organization does (plain or secure)."""
        with self._lock:
            organization = self.organization()
            spec = self.journal().strategy(round_id)  # the rule the round was opened with, even after a restart
            if spec is not None:
                organization.settings = replace(organization.settings, strategy=spec)
            self._record(self.driver().execute(read_view(organization.contract), Decision(Act.CLOSE)))
            return self.last_line

    def _record(self, outcome: RoundOutcome | None) -> None:
        if outcome is not None:
            self.journal().record_outcome(outcome)

    def abort(self) -> str:
        self.jobs.require_idle()
        with self._lock:
            info = self._current()
            driver = self.driver()
            outcome = driver.execute(read_view(driver.organization.contract),
                                     Decision(Act.ABORT, "aborted by the organization from its web page"))
            self._record(outcome)
        assert outcome is not None
        return f"round {info.round_id} aborted (tx {outcome.tx_hash})"

    def allow_client(self, address: str) -> str:
        with self._lock:
            result = self.organization().contract.allow_client(address)
        return f"{address} may register now (tx {result.tx_hash})"

    def remove_client(self, address: str) -> str:
        with self._lock:
            result = self.organization().contract.remove_client(address)
        return f"{address} removed: it can no longer submit (tx {result.tx_hash})"

    def set_registration_open(self, open_: bool) -> str:
        with self._lock:
            result = self.organization().contract.set_registration_open(open_)
        mode = "open: anyone may register" if open_ else "allow-list: only allowed addresses may register"
        return f"registration {mode} (tx {result.tx_hash})"

    def idle_tick(self) -> None:
        """Manual mode: the open round's duties that decide nothing are still done (screening updates
        as they land, a secure round's review, so that it does not run to its deadline), and on a dev
        chain a block is mined per poll so deadlines pass, as the headless organization does (a real
        network keeps its own time). Opening, closing and aborting are left to the buttons."""
        if self.link.contract() is None:
            return
        with self._lock:
            driver = self.driver()
            view, decision = driver.decide()
            if decision.act in MANUAL_DUTIES:
                self._record(driver.execute(view, decision))

    def auto_tick(self) -> None:
        """One pass of the round driver, through the same lock as the buttons; a close runs as a
        background job so the page stays responsive."""
        with self._lock:
            driver = self.driver()
            view, decision = driver.decide()
            if decision.act is Act.OPEN:
                self._open(driver)
            elif decision.act is Act.CLOSE and view is not None:
                self._start_close(view.info.round_id)
            else:
                self._record(driver.execute(view, decision))  # a wait, a screening pass or an abort
