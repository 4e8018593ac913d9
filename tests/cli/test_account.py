"""`run.py account new|show|balance`, and an unfunded or unauthorised account told what to do in one
line instead of the node's error (issue 20). Against a real Ganache, whose errors carry a JS stack."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from eth_account import Account

from chain.accounts import dev_account
from chain.backends import GanacheChain
from chain.deployments import DeploymentBook
from chain.errors import AccountUnfunded, RegistrationClosed
from chain.migrate import deploy
from cli.main import main
from protocol.outages import one_line

FUNDED_ETHER = 1000  # what Ganache gives each dev account


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_new_writes_a_private_key_file_once_and_show_prints_its_address(tmp_path: Path, capsys) -> None:
    key_file = tmp_path / "keys" / "organization.key"
    code, out, _ = _run(capsys, "account", "new", "--key-file", str(key_file))
    address = out.splitlines()[-1]
    assert code == 0 and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert Account.from_key(key_file.read_text().strip()).address == address
    written = key_file.read_text()

    code, _, err = _run(capsys, "account", "new", "--key-file", str(key_file))
    assert code == 1 and err == f"error: {key_file} already exists: a key file is never overwritten " \
                                "(choose another path)\n"
    assert key_file.read_text() == written

    assert _run(capsys, "account", "show", "--key-file", str(key_file))[:2] == (0, address + "\n")
    key_file.chmod(0o640)
    code, out, err = _run(capsys, "account", "show", "--key-file", str(key_file))
    assert (code, out) == (1, "") and err == f"error: the key file {key_file} is readable by other users: " \
                                             f"chmod 600 {key_file}\n"


def test_balance_of_a_new_and_of_a_funded_account(ganache: GanacheChain, tmp_path: Path, capsys) -> None:
    key_file = tmp_path / "client.key"
    assert _run(capsys, "account", "new", "--key-file", str(key_file))[0] == 0
    address = Account.from_key(key_file.read_text().strip()).address
    common = ["--chain", ganache.url, "--home", str(tmp_path)]
    code, out, _ = _run(capsys, "account", "balance", "--key-file", str(key_file), *common)
    assert code == 0 and out.startswith(f"{address} has 0 ETH on chain 1337")
    assert f"account {address} has no ETH on chain 1337: fund it" in out
    code, out, _ = _run(capsys, "account", "balance", "--address", dev_account(9).address.lower(), *common)
    assert code == 0 and out.startswith(f"{dev_account(9).address} has {FUNDED_ETHER} ETH")
    code, _, err = _run(capsys, "account", "balance", "--address", "0x12", *common)
    assert (code, err) == (1, "error: not an Ethereum address: 0x12\n")


def test_an_unfunded_account_gets_one_line_saying_to_fund_it(ganache: GanacheChain, tmp_path: Path, capsys) -> None:
    key_file = tmp_path / "poor.key"
    _run(capsys, "account", "new", "--key-file", str(key_file))
    poor = Account.from_key(key_file.read_text().strip())
    common = ["--chain", ganache.url, "--home", str(tmp_path)]
    code, out, err = _run(capsys, "deploy", "--key-file", str(key_file), *common)
    assert code == 1 and "migration 001" in out  # it got as far as sending
    assert err == (f"error: account {poor.address} has not enough ETH on chain 1337 to pay for this transaction "
                   "(balance 0 ETH): fund it, then retry (`run.py account balance` shows the "
                   "balance)\n")  # not Ganache's message and JavaScript stack

    organization = deploy(ganache, dev_account(0), DeploymentBook(None), registration_open=True, log=lambda _: None)
    with pytest.raises(AccountUnfunded) as refused:
        organization.with_account(poor).register()
    assert one_line(refused.value).startswith(f"AccountUnfunded: account {poor.address} has not enough ETH")  # services
    assert "stack" not in str(refused.value)


def test_a_client_not_on_the_allow_list_is_told_whom_to_ask(ganache: GanacheChain) -> None:
    organization = deploy(ganache, dev_account(0), DeploymentBook(None), registration_open=False, log=lambda _: None)
    stranger = dev_account(8).address
    with pytest.raises(RegistrationClosed) as refused:
        organization.with_account(dev_account(8)).register()
    assert str(refused.value) == (f"registration is closed and {stranger} is not on the allow-list: ask the "
                                  f"organization to run `run.py clients allow {stranger}`, then retry")
