"""The committed artifact is what the current sources compile to."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from chain.compiler import (
    SOLC_VERSION,
    Artifact,
    CompilerVersionError,
    collect_sources,
    compile_contract,
    require_pinned_version,
    standard_input,
)
from chain.contract import CONTRACT_NAME
from chain.errors import revert_classes
from chain.paths import CONTRACTS_DIR, NODE_BIN, REPO_ROOT
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


def test_solcjs_wrapper_keeps_output_past_64_kib() -> None:
    """Piping solcjs cut its output at 64 KiB; the AST and metadata of the contract are larger."""
    require_component((NODE_BIN / "solcjs").exists(), "solcjs", "run ./setup.sh to install the npm solc")
    sources = collect_sources(CONTRACTS_DIR / f"{CONTRACT_NAME}.sol")
    request = standard_input(sources, {"*": {"*": ["abi", "metadata", "evm.bytecode"], "": ["ast"]}})
    completed = subprocess.run([str(REPO_ROOT / "scripts" / "solcjs-as-solc"), "--standard-json"],
                               input=json.dumps(request), capture_output=True, text=True, check=True, timeout=300)
    assert len(completed.stdout) > 64 * 1024
    output = json.loads(completed.stdout)
    assert output["sources"][f"{CONTRACT_NAME}.sol"]["ast"]["nodeType"] == "SourceUnit"
    assert CONTRACT_NAME in output["contracts"][f"{CONTRACT_NAME}.sol"]


def test_the_sources_pin_the_compiler_version_exactly() -> None:
    for name in ("FederatedLearning.sol", "IFederatedLearning.sol"):
        assert f"pragma solidity {SOLC_VERSION};" in (CONTRACTS_DIR / name).read_text(), name
    assert Artifact.load(CONTRACT_NAME).compiler_version.startswith(SOLC_VERSION + "+")


def test_another_compiler_version_is_refused_with_what_to_install() -> None:
    require_pinned_version(f"{SOLC_VERSION}+commit.7893614a")
    refusal = re.escape(f"pinned to solc {SOLC_VERSION}, but the compiler found is 0.8.27")
    with pytest.raises(CompilerVersionError, match=refusal):
        require_pinned_version("0.8.27+commit.40a35a09")


def test_compile_refuses_a_solc_of_another_version(tmp_path) -> None:
    """A real executable answering `--version` as solc 0.8.30 would: refused before it compiles anything."""
    other = tmp_path / "solc"
    other.write_text("#!/bin/sh\nprintf 'solc, the solidity compiler commandline interface\\n"
                     "Version: 0.8.30+commit.73712a01.Linux.g++\\n'\n")
    other.chmod(0o755)
    with pytest.raises(CompilerVersionError, match=re.escape("found is 0.8.30: install solc 0.8.28")):
        compile_contract(CONTRACT_NAME, solc_binary=other)


def test_every_function_error_and_event_has_natspec() -> None:
    """Each declaration in contracts/*.sol sits right under a `///` comment (NatSpec)."""
    undocumented = []
    for path in sorted(CONTRACTS_DIR.glob("*.sol")):
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            declaration = re.match(r"\s*(function|error|event|constructor)\b", line)
            if declaration and not lines[number - 1].strip().startswith("///"):
                undocumented.append(f"{path.name}:{number + 1}: {line.strip()}")
    assert not undocumented, undocumented
