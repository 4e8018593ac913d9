"""Which phase the web pages say a secure round is in: the chain's own rules, early ends included."""

from __future__ import annotations

import pytest

from chain.contract import SecureDeadlines, SecurePhases
from webui.node import phases_view

DEADLINES = SecureDeadlines(10, 15, 20, 25, 30)


def _phases(joined: int, shared: int, reviewed: bool = False) -> SecurePhases:
    return SecurePhases(DEADLINES, joined, shared, 0, 0, 0, reviewed)


@pytest.mark.parametrize(("phases", "submissions", "block", "phase"), [
    (_phases(0, 0), 0, 5, "join"),
    (_phases(4, 3), 0, 12, "share"),  # one who joined may still post
    (_phases(4, 4), 0, 12, "submit"),  # everyone who joined posted: the masking set is fixed early
    (_phases(4, 3), 2, 17, "submit"),
    (_phases(4, 3), 3, 17, "review"),  # the whole masking set submitted: the review starts early
    (_phases(4, 4), 4, 12, "review"),  # both early ends at once
    (_phases(4, 4, reviewed=True), 4, 12, "reveal"),  # the organization ended the review
    (_phases(4, 3), 2, 26, "reveal"),
    (_phases(4, 3), 2, 31, "over"),
])
def test_the_phase_shown_follows_the_contracts_rules(phases: SecurePhases, submissions: int, block: int,
                                                     phase: str) -> None:
    view = phases_view(phases, submissions, block)
    assert view["phase"] == phase
    assert [p["name"] for p in view["phases"] if p["current"]] == ([phase] if phase != "over" else [])
