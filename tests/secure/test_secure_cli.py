"""`run.py demo --secure-aggregation` as a user runs it, and `run.py verify` redoing the unmasking elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chain.backends import GanacheChain
from storage.jsipfs import JsIpfsDaemon
from tests.processes import run_py
from tests.support import run_main

pytestmark = pytest.mark.costly  # a minute or so of end-to-end runs: scheduled first (tests/conftest.py)

SECURE_DEMO = ["--model", "2nn", "--clients", "4", "--rounds", "2", "--epochs", "1", "--lr", "0.1",
               "--secure-aggregation"]


@pytest.mark.parametrize(("options", "reason"), [
    (["--strategy", "median"], "--strategy median needs to see individual updates"),
    (["--fedcurv-lambda", "1"], "--fedcurv-lambda need(s) to see individual updates"),
    (["--dropouts", "2"], "at least 3 clients that submit"),
    (["--encoding", "int8"], "cannot be compressed"),
])
def test_what_masking_makes_impossible_is_refused_with_the_reason(tmp_path: Path, capsys, options, reason) -> None:
    code, _, err = run_main(capsys, "demo", *SECURE_DEMO, *options, "--home", str(tmp_path))
    assert code != 0
    assert reason in err


def test_dropouts_need_secure_aggregation(tmp_path: Path, capsys) -> None:
    code, _, err = run_main(capsys, "demo", "--dropouts", "1", "--home", str(tmp_path))
    assert code != 0 and "--dropouts needs --secure-aggregation" in err


def test_secure_demo_with_a_dropout_on_ganache_and_ipfs_then_verify_elsewhere(
        ganache: GanacheChain, jsipfs_daemon: JsIpfsDaemon, tmp_path: Path, capsys) -> None:
    summary_path = tmp_path / "summary.json"
    backends = ["--chain", ganache.url, "--ipfs", jsipfs_daemon.api_multiaddr, "--home", str(tmp_path)]
    completed = run_py("demo", *SECURE_DEMO, "--dropouts", "1", *backends, "--json", str(summary_path))
    assert "1 dropped, 3 share reveals" in completed.stdout
    summary = json.loads(summary_path.read_text())
    rounds = summary["rounds"]
    assert all(r["state"] == "finalized" and r["joined"] == 4 and len(r["update_cids"]) == 3 for r in rounds)
    assert rounds[1]["accuracy"] > 0.7
    phases = ["open", "join", "share", "submit", "review", "reveal", "close"]
    assert all(list(r["phase_seconds"]) == phases for r in rounds)
    assert all(v["ok"] and "1 dropped, 3 share reveals" in v["message"] for v in summary["verified"])
    code, out, err = run_main(capsys, "verify", "--round", "all", *backends)  # only reads: in this process
    assert code == 0, err
    assert "2/2 finalized rounds verified" in out
