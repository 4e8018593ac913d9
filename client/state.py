"""What a client keeps on its own disk between rounds: EWC memory, FedCurv contribution, the data
it trained on (fingerprint and version), its consolidations, history.

Written atomically (temp file + rename) so a crash never leaves half a file behind, and validated
on load: a file damaged by hand or by a disk is ClientStateError, one line naming it, never a traceback.
`check` loads them all before training, so a damaged file stops the client before it submits anything.
"""

from __future__ import annotations

import json
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from safetensors import SafetensorError

from mlprocessor.ewc import EwcMemory, EwcState
from storage.atomic import write_text_atomically

_Record = TypeVar("_Record")
MAX_STATE_FILE_BYTES = 64 << 20  # history and data record: a year of rounds is well under a megabyte


class ClientStateError(ValueError):
    """A file of the client's own state cannot be used; the message names it and says what to do."""


def corrupt(path: Path, problem: str) -> ClientStateError:
    return ClientStateError(f"client state file {path} is corrupt ({problem}): move it away to start this "
                            "client afresh from the chain")


def _record(cls: type[_Record], value: Any, path: Path) -> _Record:
    """`cls` built from a JSON object whose keys are its fields and whose values have their types."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    if not isinstance(value, dict) or not set(value) <= names:
        raise corrupt(path, f"expected an object with fields {sorted(names)}")
    for name, item in value.items():
        allowed = typing.get_args(hints[name]) or (hints[name],)
        allowed = (*allowed, int) if float in allowed else allowed
        if not isinstance(item, allowed) or (isinstance(item, bool) and bool not in allowed):
            raise corrupt(path, f"{name} is {item!r}")
    try:
        return cls(**value)
    except TypeError as error:
        raise corrupt(path, str(error)) from None


def _read_json(path: Path) -> Any:
    try:
        if path.stat().st_size > MAX_STATE_FILE_BYTES:
            raise corrupt(path, f"over {MAX_STATE_FILE_BYTES} bytes")
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise corrupt(path, str(error)) from None


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

    def check(self) -> None:
        """Load every state file, so a damaged one is reported now (ClientStateError), not mid-round."""
        self.history()
        self.data_record()
        self.ewc_memory()
        self.fedcurv_contribution()

    def ewc_memory(self) -> EwcMemory:
        directory = self.directory / "ewc"
        return _load_tensors(directory / EwcMemory.FILE_NAME, lambda: EwcMemory.load(directory))

    def save_ewc_memory(self, memory: EwcMemory) -> None:
        memory.save(self.directory / "ewc")

    def data_record(self) -> DataRecord:
        if not self._data_path.exists():
            return DataRecord()
        saved = _read_json(self._data_path)
        if not isinstance(saved, dict):
            raise corrupt(self._data_path, "expected an object")
        consolidations = saved.pop("consolidations", [])
        if not isinstance(consolidations, list):
            raise corrupt(self._data_path, "consolidations is not a list")
        record = _record(DataRecord, saved, self._data_path)
        record.consolidations = [_record(Consolidation, c, self._data_path) for c in consolidations]
        return record

    def save_data_record(self, record: DataRecord) -> None:
        write_text_atomically(self._data_path, json.dumps(record.to_json(), indent=2) + "\n")

    def request_consolidation(self) -> None:
        """EWC: consolidate at the start of the next round even if the data stays the same."""
        record = self.data_record()
        record.consolidate_requested = True
        self.save_data_record(record)

    def fedcurv_contribution(self) -> tuple[int, EwcState] | None:
        """The (round, Fisher and parameters) this client last published for FedCurv."""
        directory = self.directory / "fedcurv"
        state = _load_tensors(directory / EwcState.FILE_NAME, lambda: EwcState.load(directory))
        marker = directory / "round"
        if state is None or not marker.exists():
            return None
        text = marker.read_text(errors="replace").strip()
        if not text.isdigit():
            raise corrupt(marker, f"{text[:20]!r} is not a round number")
        return int(text), state

    def save_fedcurv_contribution(self, round_id: int, state: EwcState) -> None:
        state.save(self.directory / "fedcurv")
        write_text_atomically(self.directory / "fedcurv" / "round", f"{round_id}\n")

    def history(self) -> list[HistoryEntry]:
        if not self._history_path.exists():
            return []
        saved = _read_json(self._history_path)
        if not isinstance(saved, list):
            raise corrupt(self._history_path, "expected a list of rounds")
        return [_record(HistoryEntry, entry, self._history_path) for entry in saved]

    def append_history(self, entry: HistoryEntry) -> None:
        entries = [asdict(e) for e in self.history() if e.round != entry.round] + [asdict(entry)]
        write_text_atomically(self._history_path, json.dumps(entries, indent=2) + "\n")


def _load_tensors(path: Path, load: typing.Callable[[], _Record]) -> _Record:
    """`load()` of a safetensors state file, its damage reported as ClientStateError."""
    try:
        return load()
    except (SafetensorError, ValueError, OSError) as error:
        raise corrupt(path, str(error).splitlines()[0] if str(error) else type(error).__name__) from None


def history_json(entries: list[HistoryEntry]) -> list[dict[str, Any]]:
    return [asdict(entry) for entry in entries]
