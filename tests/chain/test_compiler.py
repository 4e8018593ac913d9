"""The committed artifact is what the current sources compile to."""

from __future__ import annotations

import shutil

from chain.compiler import Artifact, compile_contract
from chain.contract import CONTRACT_NAME
from chain.errors import revert_classes
from chain.paths import NODE_BIN
from tests.support import require_component


def test_committed_artifact_is_fresh() -> None:
    require_component(bool(shutil.which("solc")) or (NODE_BIN / "solcjs").exists(), "a Solidity compiler",
                      "run ./setup.sh to install the npm solc")
    committed = Artifact.load(CONTRACT_NAME)
    rebuilt = compile_contract(CONTRACT_NAME)
    assert rebuilt.source_hash == committed.source_hash, "contracts changed: run `run.py compile` and commit"
    assert rebuilt.abi == committed.abi
    assert rebuilt.bytecode == committed.bytecode


def test_every_custom_error_has_a_python_exception() -> None:
    abi_errors = {entry["name"] for entry in Artifact.load(CONTRACT_NAME).abi if entry["type"] == "error"}
    assert abi_errors <= set(revert_classes())
