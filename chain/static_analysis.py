"""Slither on the contract, compiled exactly as `run.py compile` compiles it.

Slither lives in its own virtualenv (`.venv-slither`, made by setup.sh: it needs a web3 older
than the platform's). It gets the standard JSON input written here (sources inline, the
project's settings, the AST and bytecode it reads) and the same compiler: a native solc, or
solcjs behind `scripts/solcjs-as-solc`. Findings in node_modules (OpenZeppelin) are left out.

    .venv/bin/python -m chain.static_analysis   # exit status 0: nothing of medium impact or above
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from chain.compiler import collect_sources, find_solc, standard_input
from chain.contract import CONTRACT_NAME
from chain.paths import CONTRACTS_DIR, REPO_ROOT

SLITHER = REPO_ROOT / ".venv-slither" / "bin" / "slither"
_SLITHER_OUTPUTS = ["abi", "metadata", "devdoc", "userdoc", "evm.bytecode", "evm.deployedBytecode",
                    "evm.methodIdentifiers"]
TIMEOUT_SECONDS = 600


def slither_available() -> bool:
    return SLITHER.exists()


def run_slither(entry: Path = CONTRACTS_DIR / f"{CONTRACT_NAME}.sol") -> subprocess.CompletedProcess[str]:
    """Slither's run on `entry` and its imports; its exit status is non-zero when it found
    anything of medium impact or above (or could not analyse the contract)."""
    if not slither_available():
        raise FileNotFoundError(f"slither is not installed at {SLITHER}: run ./setup.sh")
    # slither finds the entry on disk by its absolute path, and solc then resolves its relative
    # imports (the interface) against that path: local sources are keyed by absolute path
    sources = {key if key.startswith("@") else str((entry.parent / key).resolve()): text
               for key, text in collect_sources(entry).items()}
    selection = {"*": {"*": _SLITHER_OUTPUTS, "": ["ast"]}}
    with tempfile.TemporaryDirectory() as directory:
        input_path = Path(directory) / f"{entry.stem}.standard-input.json"
        input_path.write_text(json.dumps(standard_input(sources, selection)))
        return subprocess.run(
            [str(SLITHER), str(input_path), "--compile-force-framework", "solc-json", "--solc", str(find_solc()),
             "--filter-paths", "node_modules", "--fail-medium"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False,
        )


def main() -> int:
    completed = run_slither()
    sys.stdout.write(completed.stdout)
    sys.stdout.write(completed.stderr)
    return completed.returncode


if __name__ == "__main__":
    sys.exit(main())
