"""A client's service as its web interface drives it: registration, training in the background,
automatic participation (plain rounds, and secure rounds through the client's round driver when
it runs with --secure-aggregation), and settings that persist in the client's state directory."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from chain.contract import ClientStatus, RoundState
from client.driver import FINISHED, ParticipantDriver
from client.service import Client, ClientSettings
from client.state import ClientState, history_json
from mlprocessor.data import Dataset
from mlprocessor.task_registry import get_task
from protocol.engine import Act, Decision, RoundView
from protocol.errors import UserError
from storage.atomic import write_text_atomically
from storage.store import ContentStore
from webui.explorer import Explorer, model_size_cap
from webui.jobs import Job
from webui.link import ChainLink
from webui.node import ServiceNode, deadline_view, phases_view

SETTINGS_FILE = "settings.json"
EDITABLE_SETTINGS = ("ewc_lambda", "ewc_decay", "fisher_mode", "fisher_samples", "mu")


class ClientNode(ServiceNode):
    automatic = "participation"

    def __init__(self, link: ChainLink, store: ContentStore, data: Dataset, state: ClientState,
                 settings: ClientSettings, data_description: str, poll_seconds: float = 1.0,
                 log: Callable[[str], None] = print, data_dir: Path | None = None, secure: bool = False) -> None:
        super().__init__(link, store, poll_seconds, log)
        self.secure = secure  # takes part in secure rounds (its X25519 key is in its own state directory)
        self._driver: ParticipantDriver | None = None
        self.data = data
        self.data_dir = data_dir
        self.state = state
        self.settings = self._saved_settings(settings)
        self.data_description = data_description
        self._client: Client | None = None
        self.explorer = Explorer(link, store, max_model_bytes=model_size_cap(self.settings.task))

    def client(self) -> Client:
        contract = self.link.require_contract()
        if self._client is None or self._client.contract is not contract:
            self._client = Client(contract, self.store, self.data, self.state, self.settings, self.log, self.data_dir)
            self._driver = None
        return self._client

    def driver(self) -> ParticipantDriver:
        """The client's round driver, the headless client's: it decides and takes secure-round steps."""
        client = self.client()
        if self._driver is None:
            self._driver = ParticipantDriver(client, secure=self.secure)
        return self._driver

    # ---------------------------------------------------------------- views

    def status(self) -> dict[str, Any]:
        view, block = self.base_status()
        view.update(settings=asdict(self.settings), contract=None, registration=None, round=None)
        if block is None:  # the chain does not answer: the last known contract, registration and round
            return self.last_known(view, ("contract", "registration", "round"))
        contract = self.link.contract()
        if contract is None:
            return view
        info = contract.client_info(self.link.account.address)
        view["contract"] = {"address": contract.address, "registration_open": contract.registration_open()}
        view["registration"] = {"status": str(info.status), "client_id": info.client_id,
                                "last_round": info.last_round}
        count = contract.round_count()
        if count:
            latest = contract.round(count)
            submitted = info.last_round == latest.round_id
            view["round"] = {
                "round": latest.round_id, "state": str(latest.state), "base_cid": str(latest.base_cid),
                **deadline_view(latest.deadline, block, latest.state is RoundState.OPEN),
                "quorum": latest.quorum, "submissions": latest.submissions, "submitted": submitted,
                "can_train": (latest.state is RoundState.OPEN and block < latest.deadline and not submitted
                              and info.status is ClientStatus.REGISTERED), "secure": None,
            }
            if (phases := contract.secure_round(latest.round_id)) is not None:
                round_view, decision = self.driver().decide()
                status = contract.participant_status(latest.round_id, self.link.account.address)
                view["round"].update(secure=phases_view(phases, latest.submissions, block),
                                     participant=str(status), submitted=status in FINISHED,
                                     next={"act": str(decision.act), "reason": decision.reason},
                                     can_train=_acts(round_view, decision))
        return self.remember(view)

    def data_summary(self) -> dict[str, Any]:
        """The data of the latest round (a watched directory may have changed since the start) as its
        task describes it (examples, classes, examples per class), its version, the consolidations so
        far and the local accuracy reached on each data version."""
        data = self._client.data if self._client is not None else self.data
        record = self.state.data_record()
        versions: dict[int, dict[str, Any]] = {}
        for entry in self.state.history():
            seen = versions.setdefault(entry.data_version, {"version": entry.data_version, "rounds": 0})
            seen.update(rounds=seen["rounds"] + 1, last_round=entry.round, local_accuracy=entry.local_accuracy_after)
        return {**get_task(self.settings.task).describe_data(data), "description": self.data_description,
                "version": record.version,
                "consolidate_requested": record.consolidate_requested,
                "consolidations": [asdict(c) for c in record.consolidations], "versions": list(versions.values())}

    def history(self) -> list[dict[str, Any]]:
        return history_json(self.state.history())

    # ---------------------------------------------------------------- actions

    def register(self) -> str:
        """Register with this client's X25519 public key (created in its state directory), as the
        headless client does, so the account can take part in secure rounds."""
        client = self.client()
        if client.contract.client_info(client.address).status is ClientStatus.REGISTERED:
            raise UserError(f"{client.address} is already registered")
        client.ensure_registered()
        return f"{client.address} registered with its secure-aggregation key"

    def train(self) -> Job:
        """Answer the open round in the background: pull the base, train, publish, submit; in a
        secure round, take the step its current phase asks (join, post shares, submit, reveal)."""
        self.jobs.require_idle()
        client = self.client()
        if client.contract.client_info(client.address).status is not ClientStatus.REGISTERED:
            raise UserError("register this account first")
        view, decision = self.driver().decide()
        if view is not None and view.secure:
            if not _acts(view, decision):
                raise UserError(f"secure round {view.info.round_id}: nothing to do now ({decision.reason})")
            return self._start_secure_step(view.info.round_id, decision)
        info = client.pending_round()
        if info is None:
            raise UserError("no open round waits for this client's update (none is open, its deadline passed, "
                            "or this client already submitted)")
        return self._start_round(client, info.round_id)

    def _start_round(self, client: Client, round_id: int) -> Job:
        return self.jobs.start(f"round {round_id}", f"training on {len(self.data)} examples for round {round_id}…",
                               lambda: self._participate(client, round_id))

    @staticmethod
    def _participate(client: Client, round_id: int) -> str:
        participation = client.participate(round_id)
        entry = participation.entry
        if entry is None:
            return f"round {round_id} skipped: {participation.skipped}"
        return (f"round {round_id}: submitted {entry.update_cid} (local accuracy "
                f"{entry.local_accuracy_before:.1%} → {entry.local_accuracy_after:.1%})")

    def request_consolidation(self) -> str:
        """EWC: protect what was learned on the current data, at the start of the next round."""
        self.state.request_consolidation()
        return "the next round starts with a consolidation"

    def update_settings(self, changes: dict[str, Any]) -> str:
        """Apply validated settings to the next rounds and keep them for the next start."""
        self.settings = replace(self.settings, **changes)
        if self._client is not None:
            self._client.settings = self.settings
        saved = {name: getattr(self.settings, name) for name in EDITABLE_SETTINGS}
        write_text_atomically(self.state.directory / SETTINGS_FILE, json.dumps(saved, indent=2) + "\n")
        return "settings saved: " + ", ".join(f"{name} {value}" for name, value in saved.items())

    def _saved_settings(self, settings: ClientSettings) -> ClientSettings:
        path = self.state.directory / SETTINGS_FILE
        if not path.exists():
            return settings
        saved = json.loads(path.read_text())
        return replace(settings, **{name: saved[name] for name in EDITABLE_SETTINGS if name in saved})

    def _start_secure_step(self, round_id: int, decision: Decision) -> Job:
        return self.jobs.start(f"round {round_id}", f"secure round {round_id}: {decision.act}…",
                               lambda: self._secure_step(round_id))

    def _secure_step(self, round_id: int) -> str:
        """One step of the client's secure driver: what the round's phase asks now, decided afresh."""
        step = self.driver().secure().step(round_id)
        return f"secure round {round_id}: {step.action}" + (f" ({step.detail})" if step.detail else "")

    def auto_tick(self) -> None:
        client = self.client()
        client.ensure_registered()
        view, decision = self.driver().decide()
        if view is not None and view.secure:
            if _acts(view, decision):
                self._start_secure_step(view.info.round_id, decision)
            return
        info = client.pending_round()
        if info is not None:
            self._start_round(client, info.round_id)


def _acts(view: RoundView | None, decision: Decision) -> bool:
    """Whether the round engine asks this client to act in `view`'s open round now."""
    return view is not None and view.open and decision.act not in (Act.WAIT, Act.DONE)
