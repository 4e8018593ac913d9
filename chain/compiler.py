"""Compile the Solidity sources with py-solc-x and keep the artifact the rest of the code loads.

A native `solc` on PATH is preferred; otherwise the npm `solcjs` runs behind
`scripts/solcjs-as-solc`. The compiler version is pinned: the sources say `pragma solidity
0.8.28;` exactly, and a compiler of any other version is refused before it runs, so the committed
bytecode is reproducible. The artifact (ABI, bytecode, compiler version, source hash) is
committed, so running the platform needs no compiler and no Node.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import solcx

from chain.paths import ARTIFACTS_DIR, CONTRACTS_DIR, NODE_MODULES, REPO_ROOT

SOLC_VERSION = "0.8.28"  # the exact pragma of contracts/*.sol; package.json pins the npm solc to it
EVM_VERSION = "shanghai"  # Ganache 7.9 runs up to Shanghai; later forks run Shanghai code too.
OPTIMIZER_RUNS = 200
_IMPORT = re.compile(r'^\s*import\s+(?:\{[^}]*\}\s+from\s+)?"([^"]+)"\s*;', re.MULTILINE)


class CompilerNotFoundError(RuntimeError):
    """No solc binary and no solcjs: the message says how to get one."""


class CompilerVersionError(RuntimeError):
    """The compiler found is not the pinned version: the bytecode would differ from the committed one."""


class CompilationError(RuntimeError):
    """solc reported errors; the message carries its formatted output."""


@dataclass(frozen=True)
class Artifact:
    """What deploying and calling a contract needs, as stored in contracts/build/<name>.json."""

    contract_name: str
    abi: list[dict[str, Any]]
    bytecode: str
    compiler_version: str
    source_hash: str

    @classmethod
    def load(cls, name: str, directory: Path = ARTIFACTS_DIR) -> Artifact:
        path = directory / f"{name}.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"no compiled artifact at {path}: run `run.py compile`") from None
        return cls(
            contract_name=data["contractName"],
            abi=data["abi"],
            bytecode=data["bytecode"],
            compiler_version=data["compiler"]["version"],
            source_hash=data["sourceHash"],
        )

    def save(self, directory: Path = ARTIFACTS_DIR) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.contract_name}.json"
        document = {
            "contractName": self.contract_name,
            "abi": self.abi,
            "bytecode": self.bytecode,
            "compiler": {"version": self.compiler_version, "evmVersion": EVM_VERSION, "optimizerRuns": OPTIMIZER_RUNS},
            "sourceHash": self.source_hash,
        }
        path.write_text(json.dumps(document, indent=2) + "\n")
        return path


def find_solc() -> Path:
    """A native solc when installed, else the solcjs wrapper."""
    native = shutil.which("solc")
    if native:
        return Path(native)
    if (NODE_MODULES / ".bin" / "solcjs").exists():
        return REPO_ROOT / "scripts" / "solcjs-as-solc"
    raise CompilerNotFoundError(
        "no Solidity compiler: install a native solc, or run ./setup.sh to get the npm solcjs"
    )


def require_pinned_version(found: str) -> None:
    """Refuse any compiler but SOLC_VERSION (`found` as solc prints it, e.g. 0.8.28+commit.7893614a)."""
    release = found.split("+", 1)[0]
    if release != SOLC_VERSION:
        raise CompilerVersionError(
            f"the contracts are pinned to solc {SOLC_VERSION}, but the compiler found is {release}: "
            f"install solc {SOLC_VERSION} (npm install solc@{SOLC_VERSION}, or ./setup.sh)")


def collect_sources(entry: Path) -> dict[str, str]:
    """The entry file and everything it imports, keyed by import path, read from disk."""
    sources: dict[str, str] = {}
    pending = [(entry.name, entry)]
    while pending:
        key, path = pending.pop()
        if key in sources:
            continue
        text = path.read_text()
        sources[key] = text
        for imported in _IMPORT.findall(text):
            resolved_key = _resolve_import(key, imported)
            pending.append((resolved_key, _source_path(resolved_key)))
    return dict(sorted(sources.items()))


def _resolve_import(importer: str, imported: str) -> str:
    if imported.startswith("."):
        return posixpath.normpath(posixpath.join(posixpath.dirname(importer), imported))
    return imported


def _source_path(key: str) -> Path:
    if key.startswith("@"):
        return NODE_MODULES / key
    return CONTRACTS_DIR / key


def source_hash(sources: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for key, text in sources.items():
        digest.update(key.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()


def standard_input(sources: dict[str, str], output_selection: dict[str, Any]) -> dict[str, Any]:
    """solc's standard JSON input for `sources` with the project's compiler settings."""
    return {
        "language": "Solidity",
        "sources": {key: {"content": text} for key, text in sources.items()},
        "settings": {
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            "evmVersion": EVM_VERSION,
            "outputSelection": output_selection,
        },
    }


def compile_contract(name: str, solc_binary: Path | None = None) -> Artifact:
    """Compile contracts/<name>.sol and return its artifact (not saved)."""
    sources = collect_sources(CONTRACTS_DIR / f"{name}.sol")
    binary = solc_binary or find_solc()
    version = str(solcx.wrapper.get_solc_version(binary, with_commit_hash=True))
    require_pinned_version(version)
    try:
        output = solcx.compile_standard(
            standard_input(sources, {f"{name}.sol": {name: ["abi", "evm.bytecode.object"]}}), solc_binary=binary
        )
    except solcx.exceptions.SolcError as error:
        raise CompilationError(str(error)) from None
    errors = [e["formattedMessage"] for e in output.get("errors", []) if e["severity"] == "error"]
    if errors:
        raise CompilationError("\n".join(errors))
    compiled = output["contracts"][f"{name}.sol"][name]
    return Artifact(
        contract_name=name,
        abi=compiled["abi"],
        bytecode="0x" + compiled["evm"]["bytecode"]["object"],
        compiler_version=version,
        source_hash=source_hash(sources),
    )
