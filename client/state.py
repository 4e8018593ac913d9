"""What a client keeps on its own disk between rounds: EWC memory, FedCurv contribution, the data
it trained on (fingerprint and version), its consolidations, history.

Written atomically (temp file + rename) so a crash never leaves half a file behind.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlprocessor.ewc import EwcMemory, EwcState
from storage.atomic import write_text_atomically


@dataclass(frozen=True)
class HistoryEntry:
    round: int
    base_cid: str
    update_cid: str
    samples: int
    tx_hash: str
    gas_used: int
    train_loss: float
    local_accuracy_before: float
    local_accuracy_after: float
    data_version: int = 0


@dataclass(frozen=True)
class Consolidation:
    """One EWC consolidation: at which round, the samples its Fisher came from, when (Unix time),
    and the data version whose knowledge it protects."""

    round: int
    samples: int
    time: float
    data_version: int


@dataclass
class DataRecord:
    """The data the client trained on last, how often its data changed, and its consolidations."""

    fingerprint: str | None = None
    version: int = 0
    consolidate_requested: bool = False
    consolidations: list[Consolidation] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class ClientState:
    """The files under one client's state directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def _history_path(self) -> Path:
        return self.directory / "history.json"

    @property
    def _data_path(self) -> Path:
        return self.directory / "data.json"

    def ewc_memory(self) -> EwcMemory:
        return EwcMemory.load(self.directory / "ewc")

    def save_ewc_memory(self, memory: EwcMemory) -> None:
        memory.save(self.directory / "ewc")

    def data_record(self) -> DataRecord:
        if not self._data_path.exists():
            return DataRecord()
        saved = json.loads(self._data_path.read_text())
        consolidations = [Consolidation(**c) for c in saved.pop("consolidations", [])]
        return DataRecord(**saved, consolidations=consolidations)

    def save_data_record(self, record: DataRecord) -> None:
        write_text_atomically(self._data_path, json.dumps(record.to_json(), indent=2) + "\n")

    def request_consolidation(self) -> None:
        """EWC: consolidate at the start of the next round even if the data stays the same."""
        record = self.data_record()
        record.consolidate_requested = True
        self.save_data_record(record)

    def fedcurv_contribution(self) -> tuple[int, EwcState] | None:
        """The (round, Fisher and parameters) this client last published for FedCurv."""
        state = EwcState.load(self.directory / "fedcurv")
        marker = self.directory / "fedcurv" / "round"
        if state is None or not marker.exists():
            return None
        return int(marker.read_text()), state

    def save_fedcurv_contribution(self, round_id: int, state: EwcState) -> None:
        state.save(self.directory / "fedcurv")
        write_text_atomically(self.directory / "fedcurv" / "round", f"{round_id}\n")

    def history(self) -> list[HistoryEntry]:
        if not self._history_path.exists():
            return []
        return [HistoryEntry(**entry) for entry in json.loads(self._history_path.read_text())]

    def append_history(self, entry: HistoryEntry) -> None:
        entries = [asdict(e) for e in self.history() if e.round != entry.round] + [asdict(entry)]
        write_text_atomically(self._history_path, json.dumps(entries, indent=2) + "\n")


def history_json(entries: list[HistoryEntry]) -> list[dict[str, Any]]:
    return [asdict(entry) for entry in entries]
