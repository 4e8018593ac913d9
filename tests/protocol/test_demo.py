"""`run.py demo` as a user runs it: default backends (a private Anvil when installed), then Ganache with
an IPFS daemon; the same CIDs whatever the number of workers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chain.backends import GanacheChain
from storage.jsipfs import JsIpfsDaemon
from tests.processes import SMALL_DEMO, DemoRun, run_py
from tests.support import run_main

pytestmark = pytest.mark.costly  # a minute or so of end-to-end runs: scheduled first (tests/conftest.py)


def _check_summary(summary: dict[str, Any]) -> None:
    rounds = summary["rounds"]
    assert [r["round"] for r in rounds] == [1, 2]
    assert all(r["state"] == "finalized" and r["accepted"] == [True] * 3 for r in rounds)
    assert rounds[1]["base_cid"] == rounds[0]["result_cid"]  # round 2 builds on round 1
    assert rounds[1]["accuracy"] > 0.7 and rounds[1]["accuracy"] >= rounds[0]["accuracy"] - 0.02
    for record in rounds:
        assert len(record["update_cids"]) == 3 and len(set(record["update_cids"])) == 3
        assert all(h.startswith("0x") for h in [record["tx_hashes"]["open"], record["tx_hashes"]["close"]])
        assert all(0 < gas <= 60_000 for gas in record["gas_used"]["submissions"])
        assert set(record["seconds"]) == {"training", "serialization", "ipfs", "chain", "aggregation", "evaluation"}
        assert record["seconds"]["training"] > 0
    assert all(v["ok"] for v in summary["verified"]) and len(summary["verified"]) == 2
    history = summary["history"]
    assert [h["result_cid"] for h in history] == [r["result_cid"] for r in rounds]
    assert [[s["cid"] for s in h["submissions"]] for h in history] == [r["update_cids"] for r in rounds]


def test_demo_on_default_backends(small_demo: DemoRun) -> None:
    assert "round 2/2: test accuracy" in small_demo.completed.stdout
    _check_summary(small_demo.summary)


def test_demo_on_ganache_and_ipfs_daemon(ganache: GanacheChain, jsipfs_daemon: JsIpfsDaemon, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The demo as a process; `history` and `verify` of its home in this one (they only read)."""
    summary_path = tmp_path / "summary.json"
    backends = ["--chain", ganache.url, "--ipfs", jsipfs_daemon.api_multiaddr, "--home", str(tmp_path)]
    run_py("demo", *SMALL_DEMO, *backends, "--json", str(summary_path))
    summary = json.loads(summary_path.read_text())
    _check_summary(summary)

    code, out, err = run_main(capsys, "history", "--json", *backends[:2], *backends[4:])
    assert code == 0, err
    history = json.loads(out)
    assert history["contract"] == summary["contract"]
    assert [r["result_cid"] for r in history["rounds"]] == [r["result_cid"] for r in summary["rounds"]]
    code, out, err = run_main(capsys, "verify", "--round", "all", *backends)
    assert code == 0, err
    assert "2/2 finalized rounds verified" in out


def test_same_seed_gives_the_same_cids_whatever_the_number_of_workers(small_demo: DemoRun, tmp_path: Path) -> None:
    """Clients in one thread on the in-process EVM, or in two worker processes on a private Anvil."""
    path = tmp_path / "threads.json"
    run_py("demo", *SMALL_DEMO, "--chain", "embedded", "--workers", "1", "--home", str(tmp_path), "--json", str(path))
    summaries = {"threads": json.loads(path.read_text()), "processes": small_demo.summary}
    assert summaries["threads"]["clients_in"] == "threads" and summaries["threads"]["workers"] == 1
    assert summaries["processes"]["clients_in"] == "processes" and summaries["processes"]["workers"] == 2
    threads, processes = summaries["threads"]["rounds"], summaries["processes"]["rounds"]
    assert [sorted(r["update_cids"]) for r in threads] == [sorted(r["update_cids"]) for r in processes]
    assert [r["result_cid"] for r in threads] == [r["result_cid"] for r in processes]
