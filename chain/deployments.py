"""Deployment records per chain id, so other processes find the contract and its ABI.

Kept in `<home>/deployments.json`: {chain_id: {"contracts": {name: record}, "migrations": [n, ...]}}.
Writes are atomic (temp file + rename) because several processes share the home directory.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from storage.atomic import write_text_atomically


class DeploymentNotFoundError(LookupError):
    """Nothing deployed on this chain yet; the message says how to deploy."""


@dataclass(frozen=True)
class Deployment:
    contract_name: str
    address: str
    chain_id: int
    block_number: int
    tx_hash: str
    abi: list[dict[str, Any]] = field(repr=False)


class DeploymentBook:
    """Reads and writes the deployment records of every chain in one JSON file.

    With no path the records live in memory: right for the in-process EVM, whose contracts
    vanish with the process.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._memory: dict[str, Any] = {}

    def _read(self) -> dict[str, Any]:
        if self.path is None:
            return json.loads(json.dumps(self._memory))
        if not self.path.exists():
            return {}
        try:
            return json.loads(self.path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{self.path} is not valid JSON ({error}); move it away and redeploy") from None

    def _write(self, document: dict[str, Any]) -> None:
        if self.path is None:
            self._memory = document
            return
        write_text_atomically(self.path, json.dumps(document, indent=2) + "\n")

    def get(self, chain_id: int, contract_name: str) -> Deployment:
        record = self._read().get(str(chain_id), {}).get("contracts", {}).get(contract_name)
        if record is None:
            raise DeploymentNotFoundError(
                f"no {contract_name} deployment recorded for chain {chain_id} in {self.path or 'memory'}: "
                "run `run.py deploy` with the same --chain and --home"
            )
        return Deployment(**record)

    def deployments(self, chain_id: int) -> list[Deployment]:
        contracts = self._read().get(str(chain_id), {}).get("contracts", {})
        return [Deployment(**record) for record in contracts.values()]

    def record(self, deployment: Deployment) -> None:
        document = self._read()
        chain = document.setdefault(str(deployment.chain_id), {"contracts": {}, "migrations": []})
        chain["contracts"][deployment.contract_name] = asdict(deployment)
        self._write(document)

    def completed_migrations(self, chain_id: int) -> list[int]:
        return list(self._read().get(str(chain_id), {}).get("migrations", []))

    def mark_migrated(self, chain_id: int, number: int) -> None:
        document = self._read()
        chain = document.setdefault(str(chain_id), {"contracts": {}, "migrations": []})
        chain["migrations"] = sorted({*chain["migrations"], number})
        self._write(document)

    def forget_chain(self, chain_id: int) -> None:
        document = self._read()
        document.pop(str(chain_id), None)
        self._write(document)
