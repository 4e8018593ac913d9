"""What the round pages show that the chain does not hold: each round's strategy, rejection reasons,
test metrics and why it was aborted, kept on disk under the home directory so they survive restarts."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from chain.contract import FederatedLearningContract
from organization.service import RoundOutcome
from protocol.plan import StrategySpec
from storage.atomic import write_text_atomically


def journal_path(directory: Path, contract: FederatedLearningContract) -> Path:
    """One journal per deployment: a new contract starts a new history."""
    return directory / f"journal-{contract.chain.web3.eth.chain_id}-{contract.address}.json"


class RoundJournal:
    """One JSON file per contract: {"<round>": {"strategy": ..., "rejections": ..., "accuracy": ..., "reason": ...}}."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._rounds: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.exists() else {}

    def entry(self, round_id: int) -> dict[str, Any]:
        return dict(self._rounds.get(str(round_id), {}))

    def strategy(self, round_id: int) -> StrategySpec | None:
        """The rule the round was opened with: a restart must aggregate it the same way."""
        saved = self.entry(round_id).get("strategy")
        return StrategySpec(saved["name"], saved["params"]) if saved else None

    def record_strategy(self, round_id: int, spec: StrategySpec) -> None:
        self._update(round_id, strategy={"name": spec.name, "params": spec.params})

    def record_outcome(self, outcome: RoundOutcome) -> None:
        self._update(outcome.round_id, state=str(outcome.state),
                     rejections={str(index): reason for index, reason in outcome.rejections.items()},
                     accuracy=outcome.accuracy, loss=outcome.loss, reason=outcome.reason)

    def _update(self, round_id: int, **values: Any) -> None:
        with self._lock:
            self._rounds.setdefault(str(round_id), {}).update(values)
            write_text_atomically(self.path, json.dumps(self._rounds, indent=2, sort_keys=True) + "\n")
