"""Keys and access (issue 11, item 5): the public dev keys sign only on dev chains unless asked,
keys come from a key file or the environment, deploy defaults to an allow-list elsewhere, and
`run.py clients` manages the registry. Run through `run.py`'s own entry point against a real
Ganache that claims to be chain 5 (a public test network's id)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.accounts import (
    KEY_ENVIRONMENT_VARIABLE,
    DevKeysRefusedError,
    InvalidKeyError,
    choose_account,
    dev_account,
)
from chain.backends import RpcChain, require_dev_chain
from chain.contract import ClientStatus
from chain.deployments import DeploymentBook
from chain.migrate import attach
from chain.nodes import ganache_answers, ganache_command, ganache_url
from chain.paths import NODE_BIN
from cli.main import main
from tests.support import free_port, require_component, run_main, wait_until

PUBLIC_CHAIN_ID = 5


@pytest.fixture(scope="module")
def public_chain_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Ganache with the dev accounts funded but a non-dev chain id; stopped by its PID."""
    require_component((NODE_BIN / "ganache").exists(), "Ganache", "run ./setup.sh to install the npm package")
    port = free_port()
    command = ganache_command(port, tmp_path_factory.mktemp("public-chain"))
    command[command.index("--chain.chainId") + 1] = str(PUBLIC_CHAIN_ID)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: ganache_answers(ganache_url(port)), 60, "Ganache with chain id 5")
        yield ganache_url(port)
    finally:
        process.terminate()
        process.wait(10)


def _key_file(directory: Path, index: int, mode: int = 0o600) -> Path:
    path = directory / f"key-{index}"
    path.write_text(dev_account(index).key.to_0x_hex() + "\n")
    path.chmod(mode)
    return path


# ---------------------------------------------------------------- choosing the key


def test_key_file_then_account_then_environment_then_default(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(KEY_ENVIRONMENT_VARIABLE, raising=False)
    assert choose_account(None, None, default_index=1).account == dev_account(1)
    assert choose_account(None, None, default_index=1).from_dev_mnemonic
    monkeypatch.setenv(KEY_ENVIRONMENT_VARIABLE, dev_account(5).key.to_0x_hex())
    from_environment = choose_account(None, None, default_index=1)
    assert (from_environment.account, from_environment.from_dev_mnemonic) == (dev_account(5), False)
    assert choose_account(3, None, default_index=1).account == dev_account(3)  # explicit beats environment
    from_file = choose_account(None, _key_file(tmp_path, 7), default_index=1)
    assert (from_file.account, from_file.from_dev_mnemonic) == (dev_account(7), False)


def test_unsafe_or_bad_key_files_are_refused_without_echoing_the_key(tmp_path) -> None:
    shared = _key_file(tmp_path, 4, mode=0o644)
    with pytest.raises(InvalidKeyError, match="readable by other users: chmod 600"):
        choose_account(None, shared, default_index=0)
    garbage = tmp_path / "garbage"
    garbage.write_text("not a key")
    garbage.chmod(0o600)
    with pytest.raises(InvalidKeyError, match="does not hold a private key") as refused:
        choose_account(None, garbage, default_index=0)
    assert "not a key" not in str(refused.value)
    with pytest.raises(InvalidKeyError, match="cannot read the key file"):
        choose_account(None, tmp_path / "missing", default_index=0)


def test_a_key_on_the_command_line_is_refused_without_echoing_it(capsys) -> None:
    key = dev_account(0).key.to_0x_hex()
    with pytest.raises(SystemExit) as exited:
        main(["deploy", "--key", key])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert "--key is not accepted" in err and "--key-file PATH" in err and key not in err


def test_in_process_chain_and_dev_chain_ids_are_dev_chains(chain) -> None:
    require_dev_chain(chain)  # the embedded EVM: no error


# ---------------------------------------------------------------- on a non-dev chain


def test_dev_keys_are_refused_on_a_public_chain_id(public_chain_url, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv(KEY_ENVIRONMENT_VARIABLE, raising=False)
    with pytest.raises(DevKeysRefusedError, match="chain id 5, not a dev chain"):
        require_dev_chain(RpcChain(public_chain_url))
    home = str(tmp_path)
    for argv in (["deploy"], ["deploy", "--account", "0"], ["clients", "mode", "open"],
                 ["organization", "--headless", "--rounds", "1"], ["client", "--account", "1", "--rounds", "1"],
                 ["demo", "--clients", "1", "--rounds", "1"]):
        code, _, err = run_main(capsys, *argv, "--chain", public_chain_url, "--home", home)
        assert code == 1, argv
        assert "not a dev chain" in err and "--key-file" in err and "--allow-dev-keys" in err, (argv, err)
    assert not (tmp_path / "deployments.json").exists()  # nothing was deployed


def test_key_file_deploys_with_an_allow_list_and_manages_clients(public_chain_url, tmp_path, capsys) -> None:
    home, key = str(tmp_path), str(_key_file(tmp_path, 0))
    common = ["--chain", public_chain_url, "--home", home]
    code, out, err = run_main(capsys, "deploy", "--key-file", key, "--reset", *common)
    assert code == 0, err
    book = DeploymentBook(tmp_path / "deployments.json")
    chain = RpcChain(public_chain_url)
    organization = attach(chain, book, dev_account(0))
    assert out.splitlines()[-1] == organization.address
    assert organization.registration_open() is False  # the default away from dev chains
    assert "registration allow-list: allow clients with `run.py clients allow ADDRESS`" in out
    code, out, _ = run_main(capsys, "deploy", "--key-file", key, "--registration", "open", *common)
    assert code == 0 and "`run.py clients mode open` switches it" in out
    assert out.splitlines()[-1] == organization.address

    client = organization.with_account(dev_account(2))
    assert run_main(capsys, "clients", "allow", dev_account(2).address, dev_account(3).address,
                "--key-file", key, *common)[0] == 0
    client.register(bytes(range(32)))
    code, out, _ = run_main(capsys, "clients", "list", *common)
    assert code == 0 and "registration allow-list, 2 client(s)" in out
    assert dev_account(2).address in out and dev_account(3).address in out
    code, out, err = run_main(capsys, "clients", "remove", dev_account(2).address, "--key-file", key, *common)
    assert code == 0, err
    assert organization.client_info(dev_account(2).address).status is ClientStatus.REMOVED
    assert run_main(capsys, "clients", "mode", "open", "--key-file", key, *common)[0] == 0
    assert organization.registration_open() is True

    code, _, err = run_main(capsys, "clients", "allow", "0x1234", "--key-file", key, *common)
    assert (code, "not an Ethereum address: 0x1234" in err) == (1, True)
    code, _, err = run_main(capsys, "clients", "remove", dev_account(9).address, "--key-file", key, *common)
    assert code == 1 and "not a known client" in err
    stranger = str(_key_file(tmp_path, 6))
    code, _, err = run_main(capsys, "clients", "mode", "allow-list", "--key-file", stranger, *common)
    assert code == 1 and "not the organization" in err


def test_environment_key_and_explicit_dev_keys_are_accepted(public_chain_url, tmp_path, capsys, monkeypatch) -> None:
    common = ["--chain", public_chain_url, "--home", str(tmp_path)]
    code, _, err = run_main(capsys, "deploy", "--account", "0", "--allow-dev-keys", "--registration", "open",
                        "--reset", *common)
    assert code == 0, err
    organization = attach(RpcChain(public_chain_url), DeploymentBook(tmp_path / "deployments.json"), dev_account(0))
    assert organization.registration_open() is True
    monkeypatch.setenv(KEY_ENVIRONMENT_VARIABLE, dev_account(0).key.to_0x_hex())
    code, _, err = run_main(capsys, "clients", "mode", "allow-list", *common)
    assert code == 0, err
    assert organization.registration_open() is False
