"""What a client keeps on its own disk between rounds: EWC memory, FedCurv contribution, history.

Written atomically (temp file + rename) so a crash never leaves half a file behind.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlprocessor.ewc import EwcState
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


class ClientState:
    """The files under one client's state directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def _history_path(self) -> Path:
        return self.directory / "history.json"

    def ewc(self) -> EwcState | None:
        return EwcState.load(self.directory / "ewc")

    def save_ewc(self, state: EwcState) -> None:
        state.save(self.directory / "ewc")

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
