"""What the commands say when there is nothing yet, where the demo's summary goes, and the defaults
in `--help`: run as a user runs them."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import threading
from pathlib import Path

import pytest

from chain.accounts import dev_account
from chain.backends import GanacheChain
from chain.deployments import DeploymentBook
from chain.migrate import deploy
from tests.chain.rpc_proxy import ProviderLimits, limited_provider
from tests.processes import DemoRun, Service
from tests.support import run_main, wait_until

pytestmark = pytest.mark.costly  # a minute or so of end-to-end runs: scheduled first (tests/conftest.py)


@pytest.fixture(scope="module")
def empty_contract(ganache: GanacheChain, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh deployment with no round, recorded in a home nobody else uses."""
    home = tmp_path_factory.mktemp("deployer")
    return deploy(ganache, dev_account(0), DeploymentBook(home / "deployments.json"), reset=True,
                  log=lambda _: None).address


def test_history_and_verify_of_a_contract_without_rounds_say_so(ganache: GanacheChain, empty_contract: str,
                                                                 tmp_path: Path, capsys) -> None:
    attach = ["--chain", ganache.url, "--contract", empty_contract, "--home", str(tmp_path)]
    code, out, _ = run_main(capsys, "history", *attach)
    assert code == 0
    assert out.splitlines()[-1] == "no round has been opened on this contract yet"
    code, out, err = run_main(capsys, "verify", *attach)
    assert code == 0, err
    assert out.strip() == f"nothing to verify: contract {empty_contract} has no round yet"


def test_a_fresh_home_is_told_about_contract_not_deploy(ganache: GanacheChain, tmp_path: Path, capsys) -> None:
    code, _, err = run_main(capsys, "verify", "--chain", ganache.url, "--home", str(tmp_path))
    assert code == 1 and err.count("\n") == 1
    assert "--contract ADDRESS" in err and "run.py deploy" not in err
    code, _, err = run_main(capsys, "history", "--chain", ganache.url, "--contract", dev_account(7).address,
                            "--home", str(tmp_path))
    assert code == 1 and "no contract at" in err and "check --contract" in err


def test_the_demo_writes_its_summary_into_the_home_and_says_so(small_demo: DemoRun) -> None:
    demo = small_demo.completed  # run without --json
    summary_path = small_demo.home / "demo-summary.json"
    assert demo.stdout.splitlines()[-1].endswith(f"summary in {summary_path}")
    summary = json.loads(summary_path.read_text())
    assert "concurrently" in summary["seconds_note"] and summary["rounds"][0]["wall_seconds"] > 0
    progress = demo.stderr.splitlines()  # not a terminal: plain lines, one per client done, no bar
    assert "round 1/2: 3/3 clients trained" in progress and not any("\r" in line for line in progress)
    assert any(line.startswith("verifying 2 finalized round") for line in progress)
    assert not any("Traceback" in line or "SIGTERM" in line for line in progress)  # workers end quietly


def test_help_shows_the_defaults(capsys) -> None:
    demo = " ".join(run_main(capsys, "demo", "--help")[1].split())  # argparse wraps lines at the terminal's width
    assert "--clients CLIENTS (default: 5)" in demo and "(default: embedded)" in demo
    organization = " ".join(run_main(capsys, "organization", "--help")[1].split())
    assert "then exit (default: run until stopped)" in organization
    assert "--deadline-blocks DEADLINE_BLOCKS blocks a round stays open (default: 60)" in organization


class Hangup:
    """A port where nothing answers: each connection is accepted, counted and closed at once."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):  # closed at the end of the test
            while True:
                connection, _ = self.server.accept()
                self.connections += 1
                connection.close()


MORE_POLLS = 3  # after the first "waiting" line: polls counted where they land, not slept for


@pytest.mark.parametrize(("what", "waited"), [
    ("ipfs", "waiting for IPFS: no IPFS daemon answers at http://127.0.0.1:"),
    ("deployment", "waiting for the organization to deploy the contract (no FederatedLearning deployment"),
])
def test_a_client_started_first_waits_and_says_so_once(ganache: GanacheChain, tmp_path: Path, what: str,
                                                        waited: str) -> None:
    hangup = Hangup()
    requests = ProviderLimits(max_blocks=10**9, max_logs=10**9, rate_limit_every=0)
    with limited_provider(ganache.url, requests) as chain_url:
        if what == "ipfs":
            ipfs, polls = hangup.url, lambda: hangup.connections
        else:
            ipfs, polls = "embedded", lambda: requests.methods["eth_blockNumber"]
        client = Service("client", "--chain", chain_url, "--ipfs", ipfs, "--home", str(tmp_path), "--account", "4",
                         "--num-partitions", "8", "--poll", "0.2")
        try:
            client.wait_for(re.escape(waited), timeout=180)
            first = polls()
            wait_until(lambda: polls() >= first + MORE_POLLS, 60, f"{MORE_POLLS} more polls")
            assert sum(line.startswith("waiting for") for line in client.lines) == 1, client.lines
            client.process.send_signal(signal.SIGTERM)
            assert client.process.wait(60) == 130  # a bound for a failing test
        finally:
            client.stop()
            hangup.server.close()


def test_settings_no_round_could_finalize_with_are_refused_before_anything_is_deployed(
        ganache: GanacheChain, tmp_path: Path, capsys) -> None:
    code, out, err = run_main(capsys, "organization", "--headless", "--chain", ganache.url, "--home", str(tmp_path),
                              "--task", "mnist-2nn", "--strategy", "krum", "--quorum", "2", "--rounds", "1")
    assert code == 1 and err.count("\n") == 1, err
    assert "krum" in err and "needs at least" in err and "raise the quorum" in err
    assert not (tmp_path / "deployments.json").exists() and "deployed" not in out
