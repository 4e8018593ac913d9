"""Slither finds nothing of medium impact or above in the contract (issue 11, item 9), and the
gate does fail when there is such a finding."""

from __future__ import annotations

import pytest

from chain.compiler import find_solc
from chain.static_analysis import run_slither, slither_available
from tests.support import require_component

# tx.origin for authorization: slither's `tx-origin` detector, medium impact.
_FLAWED = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

contract Flawed {
    address private owner = msg.sender;
    uint256 public value;

    function set(uint256 newValue) external {
        require(tx.origin == owner, "owner only");
        value = newValue;
    }
}
"""


@pytest.fixture(autouse=True)
def _slither_and_compiler() -> None:
    require_component(slither_available(), "slither", "./setup.sh creates .venv-slither with slither-analyzer")
    try:
        find_solc()
    except RuntimeError as missing:
        require_component(False, "a Solidity compiler", str(missing))


def test_contract_has_no_medium_or_high_findings() -> None:
    completed = run_slither()
    report = completed.stdout + completed.stderr
    # FederatedLearning, IFederatedLearning, Ownable2Step, Ownable, Context
    assert "analyzed (5 contracts" in report, report
    assert completed.returncode == 0, report


def test_a_medium_finding_fails_the_gate(tmp_path) -> None:
    flawed = tmp_path / "Flawed.sol"
    flawed.write_text(_FLAWED)
    completed = run_slither(flawed)
    report = completed.stdout + completed.stderr
    assert completed.returncode != 0, report
    assert "tx-origin" in report, report
