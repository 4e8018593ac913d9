"""The organization's service as the web interface drives it: views for the pages, locked actions,
aggregation in the background, and an optional automatic round loop."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from chain.contract import RoundInfo, RoundState
from chain.history import RoundRecord
from cli.common import UserError
from mlprocessor.data import Dataset
from organization.service import Organization, OrganizationSettings
from organization.web.journal import RoundJournal, journal_path
from protocol.outages import RoundSettingsError
from protocol.plan import StrategySpec
from protocol.rejections import rejections_of_result
from protocol.verification import Verification, verify_round
from storage.cid import Cid
from storage.model_file import ModelFileError, read_metadata
from storage.store import ContentStore, StorageError
from webui.errors import InvalidInput
from webui.jobs import Job
from webui.link import ChainLink
from webui.node import ServiceNode

# The one tunable parameter of each rule, as the open-round form names it.
STRATEGY_PARAMETER = {"fedprox": "mu", "trimmed-mean": "beta", "krum": "f", "multi-krum": "f"}
NO_METRICS: dict[str, float | None] = {"accuracy": None, "loss": None}


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
                 log: Callable[[str], None] = print) -> None:
        super().__init__(link, store, poll_seconds, log)
        self.settings = settings
        self.test_data = test_data
        self.journal_dir = journal_dir
        self.initial_cid: Cid | None = None
        self._lock = threading.RLock()  # one state-changing action at a time: one nonce sequence
        self._organization: Organization | None = None
        self._journal: RoundJournal | None = None
        self._snapshot: tuple[int, list[RoundRecord], list[str]] | None = None
        self._metrics: dict[Cid, dict[str, float | None]] = {}

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

    # ---------------------------------------------------------------- views

    def status(self) -> dict[str, Any]:
        view, block = self.base_status()
        view.update(initial_model_cid=str(self.initial_cid) if self.initial_cid else None, contract=None,
                    round=None, history_key=None)
        contract = self.link.contract() if block is not None else None
        if contract is None or block is None:
            return view
        count, clients = contract.round_count(), contract.client_count()
        view["contract"] = {"address": contract.address, "owner": contract.owner(), "clients": clients,
                            "registration_open": contract.registration_open(), "rounds": count}
        latest = contract.round(count) if count else None
        if latest is not None and latest.state is RoundState.OPEN:
            view["round"] = {"round": latest.round_id, "base_cid": str(latest.base_cid), "quorum": latest.quorum,
                             "deadline": latest.deadline, "blocks_left": max(0, latest.deadline - block),
                             "submissions": latest.submissions}
        # Changes whenever the history or the client list does: the page re-reads them only then.
        view["history_key"] = f"{count}:{latest and latest.state}:{latest and latest.submissions}:{clients}"
        return view

    def _history(self) -> tuple[list[RoundRecord], list[str]]:
        """Rounds and registered clients from the chain's logs, re-read only when a new block arrived."""
        organization = self.organization()
        block = organization.contract.block_number()
        if self._snapshot is None or self._snapshot[0] != block:
            self._snapshot = (block, *organization.history.rounds_and_clients())
        return self._snapshot[1], self._snapshot[2]

    def _records(self) -> list[RoundRecord]:
        return self._history()[0]

    def _result_metrics(self, record: RoundRecord) -> dict[str, float | None]:
        """Test accuracy and loss: as this service measured them, else as the result file's metadata says."""
        entry = self.journal().entry(record.round_id)
        if entry.get("accuracy") is not None:
            return {"accuracy": entry["accuracy"], "loss": entry.get("loss")}
        cid = record.result_cid
        if cid is None:
            return NO_METRICS
        if cid not in self._metrics:  # content never changes under a CID: cache for good
            try:
                extra = read_metadata(self.store.get(cid)).extra
            except (StorageError, ModelFileError):
                return NO_METRICS
            self._metrics[cid] = {"accuracy": extra.get("test_accuracy"), "loss": extra.get("test_loss")}
        return self._metrics[cid]

    def rounds(self) -> list[dict[str, Any]]:
        rows = []
        for record in self._records():
            row = record.to_json()
            submissions = row.pop("submissions")
            row.update(self._result_metrics(record), submissions=len(submissions),
                       accepted=sum(s["accepted"] is True for s in submissions),
                       rejected=sum(s["accepted"] is False for s in submissions))
            rows.append(row)
        return rows

    def round_detail(self, round_id: int) -> dict[str, Any]:
        record = next((r for r in self._records() if r.round_id == round_id), None)
        if record is None:
            raise LookupError(f"round {round_id} does not exist on this contract")
        entry = self.journal().entry(round_id)
        detail = record.to_json()
        reasons = entry.get("rejections") or {}
        if not reasons and record.result_cid:  # closed elsewhere: as its result file publishes them
            reasons = {str(i): r for i, r in (rejections_of_result(self.store, record.result_cid) or {}).items()}
        for submission in detail["submissions"]:
            submission["reason"] = reasons.get(str(submission["index"]))
        detail.update(self._result_metrics(record), strategy=entry.get("strategy"))
        return detail

    def clients(self) -> list[dict[str, Any]]:
        """Registered clients (from ClientRegistered events), their status and their part in rounds."""
        contract = self.organization().contract
        records, registered = self._history()
        rows = []
        for address in registered:
            info = contract.client_info(address)
            mine = [s for r in records for s in r.submissions if s.client == address]
            rows.append({"address": address, "status": str(info.status), "client_id": info.client_id,
                         "last_round": info.last_round, "submissions": len(mine),
                         "accepted": sum(s.accepted is True for s in mine)})
        return rows

    # ---------------------------------------------------------------- actions

    def deploy(self) -> str:
        with self._lock:
            contract = self.link.deploy(self.log)
        return f"deployed FederatedLearning at {contract.address}"

    def publish_initial_model(self) -> str:
        with self._lock:
            self.initial_cid = self.organization().initial_model_cid()
        return f"initial {self.settings.model} model published as {self.initial_cid}"

    def open_round(self, deadline_blocks: int, quorum: int, strategy: StrategySpec) -> str:
        self.jobs.require_idle()
        with self._lock:
            organization = self.organization()
            previous = organization.settings
            organization.settings = replace(previous, deadline_blocks=deadline_blocks, quorum=quorum,
                                            target=quorum, strategy=strategy)
            try:
                tx_hash = self._open(organization)
            except RoundSettingsError as error:  # e.g. krum's f too large for the quorum
                organization.settings = previous
                raise InvalidInput(str(error)) from None
        return f"{self.last_line} (strategy {strategy.name}, tx {tx_hash})"

    def _open(self, organization: Organization) -> str:
        round_id, result = organization.open_round()
        self.journal().record_strategy(round_id, organization.settings.strategy)
        return result.tx_hash

    def _current(self) -> RoundInfo:
        info = self.organization().current_round()
        if info is None:
            raise UserError("no round is open: open one first")
        return info

    def aggregate(self) -> Job:
        """Close the open round in the background: fetch, validate, aggregate, evaluate, finalize."""
        self.jobs.require_idle()
        with self._lock:
            info = self._current()
            if info.submissions < info.quorum:
                raise UserError(f"round {info.round_id} has {info.submissions} of its {info.quorum} required "
                                "updates: wait for more, or abort it")
            return self._start_close(info.round_id)

    def _start_close(self, round_id: int) -> Job:
        return self.jobs.start(f"aggregating round {round_id}", f"aggregating round {round_id}…",
                               lambda: self._close(round_id))

    def _close(self, round_id: int) -> str:
        with self._lock:
            organization = self.organization()
            spec = self.journal().strategy(round_id)  # the rule the round was opened with, even after a restart
            if spec is not None:
                organization.settings = replace(organization.settings, strategy=spec)
            self.journal().record_outcome(organization.close_round(round_id))
            return self.last_line

    def abort(self) -> str:
        self.jobs.require_idle()
        with self._lock:
            info = self._current()
            result = self.organization().contract.abort_round(info.round_id)
        return f"round {info.round_id} aborted (tx {result.tx_hash})"

    def verify(self, round_id: int) -> Verification:
        return verify_round(self.link.require_contract(), self.store, round_id)

    def auto_tick(self) -> None:
        """What Organization.run does in one pass, through the same lock as the buttons."""
        with self._lock:
            organization = self.organization()
            info = organization.current_round()
            if info is None:
                self._open(organization)
            elif organization.ready_to_close(info):
                self._start_close(info.round_id)
            else:
                organization.contract.chain.tick()
