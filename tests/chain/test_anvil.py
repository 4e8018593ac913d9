"""Anvil as a local chain: started on demand, its state kept across restarts, stopped by its own PID."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.accounts import dev_account
from chain.backends import connect
from chain.deployments import DeploymentBook
from chain.migrate import attach, deploy
from chain.nodes import anvil_executable, ganache_answers, start_anvil
from tests.chain.conftest import fresh_cid
from tests.support import free_port, require_component, wait_until


@pytest.fixture(autouse=True)
def _anvil_installed() -> None:
    require_component(anvil_executable() is not None, "Anvil", "run ./setup.sh to install the npm package "
                      "@foundry-rs/anvil")


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A home whose announced Anvil is stopped at the end even when the test fails half-way."""
    yield tmp_path
    pid_file = tmp_path / "anvil" / "anvil.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            _stop_announced(tmp_path)


def _stop_announced(home: Path) -> int:
    """Stop the Anvil that `--chain anvil` started, by the PID it recorded; returns that PID."""
    pid = int((home / "anvil" / "anvil.pid").read_text())
    os.kill(pid, signal.SIGTERM)
    os.waitpid(pid, 0)  # our child: reap it so the port and the state file are released
    return pid


def test_anvil_starts_on_demand_and_keeps_its_state_across_restarts(
        home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    monkeypatch.setenv("FEDCHAIN_ANVIL_PORT", str(port))
    url = f"http://127.0.0.1:{port}"
    assert not ganache_answers(url)

    chain = connect("anvil", home)
    announced = capsys.readouterr().out
    first_pid = int((home / "anvil" / "anvil.pid").read_text())
    assert f"started Anvil at {url} (PID {first_pid}" in announced
    assert chain.web3.eth.chain_id == 1337
    assert chain.web3.eth.accounts[0] == dev_account(0).address  # Ganache's mnemonic: same accounts
    book = DeploymentBook(home / "deployments.json")
    organization = deploy(chain, dev_account(0), book, log=lambda _: None)
    base = fresh_cid()
    round_id, _ = organization.open_round(base, organization.block_number() + 100, 1, 1000)
    block = chain.web3.eth.block_number

    assert connect("anvil", home).web3.eth.block_number == block  # it answers: nothing new is started
    assert capsys.readouterr().out == ""
    assert _stop_announced(home) == first_pid
    assert not ganache_answers(url)

    restarted = connect("anvil", home)
    second_pid = int((home / "anvil" / "anvil.pid").read_text())
    assert second_pid != first_pid
    assert restarted.web3.eth.block_number == block
    again = attach(restarted, book, dev_account(0))
    assert again.round(round_id).base_cid == base  # the home fixture stops this second Anvil


def test_stopping_one_anvil_leaves_another_running(tmp_path: Path) -> None:
    first = start_anvil(free_port(), tmp_path / "a" / "state.json")
    second = start_anvil(free_port(), tmp_path / "b" / "state.json")
    try:
        first.stop()
        assert first.process.returncode is not None
        wait_until(lambda: not ganache_answers(first.url), 60, "the stopped Anvil's port to close")
        assert ganache_answers(second.url)
        assert (tmp_path / "a" / "state.json").exists()  # SIGTERM lets it write its state
    finally:
        first.stop()
        second.stop()
