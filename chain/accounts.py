"""Accounts that sign transactions locally, so the same code works on dev chains and real networks."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from eth_account import Account
from eth_account.hdaccount import key_from_seed, seed_from_mnemonic
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

# Ganache's `--wallet.deterministic` mnemonic: the embedded chain funds the same accounts,
# so `--account I` names the same address on both dev chains.
DEV_MNEMONIC = "myth like bonus scare over problem client lizard pioneer submit female collect"
DEV_HD_PATH = "m/44'/60'/0'/0"
DEV_ACCOUNT_COUNT = 10
KEY_ENVIRONMENT_VARIABLE = "FEDCHAIN_PRIVATE_KEY"
DEV_CHAIN_IDS = frozenset({1337, 31337})  # Ganache's; Hardhat's and Anvil's


@cache
def _dev_seed() -> bytes:
    return seed_from_mnemonic(DEV_MNEMONIC, passphrase="")


@cache
def dev_account(index: int) -> LocalAccount:
    """The index-th account of the dev mnemonic (0 is the organization by convention)."""
    if index < 0:
        raise ValueError(f"account index must be >= 0, got {index}")
    return Account.from_key(key_from_seed(_dev_seed(), f"{DEV_HD_PATH}/{index}"))


def derived_account(label: str, index: int) -> LocalAccount:
    """A deterministic throwaway account (keccak of a label): for simulated clients beyond the ten
    dev accounts. Never hold real value with it: anyone can derive the key."""
    return Account.from_key(keccak(text=f"fedchain {label} {index}"))


def dev_accounts(count: int = DEV_ACCOUNT_COUNT) -> list[LocalAccount]:
    return [dev_account(index) for index in range(count)]


class InvalidKeyError(ValueError):
    """A private key that is not 32 bytes of hex, or a key file that is missing or unsafe."""


class DevKeysRefusedError(ValueError):
    """A dev-mnemonic account was about to sign on a chain that is not a dev chain."""


def account_from_key(private_key: str) -> LocalAccount:
    """An account from a hex private key, with an error that does not echo the key."""
    try:
        return Account.from_key(private_key.strip())
    except Exception:
        raise InvalidKeyError("the private key is not 32 bytes of hex (0x-prefixed or not)") from None


def account_from_key_file(path: Path) -> LocalAccount:
    """The account whose hex private key `path` holds; like ssh, refuses a file others may read."""
    try:
        mode = path.stat().st_mode
        text = path.read_text()
    except OSError as error:
        raise InvalidKeyError(f"cannot read the key file {path} ({error.strerror or type(error).__name__})") from None
    if mode & 0o077:
        raise InvalidKeyError(f"the key file {path} is readable by other users: chmod 600 {path}")
    try:
        return account_from_key(text)
    except InvalidKeyError:
        raise InvalidKeyError(f"the key file {path} does not hold a private key (32 bytes of hex)") from None


@dataclass(frozen=True)
class AccountChoice:
    """The signing account, and whether its key is one of the dev mnemonic's (public) keys."""

    account: LocalAccount
    from_dev_mnemonic: bool


def choose_account(index: int | None, key_file: Path | None, *, default_index: int) -> AccountChoice:
    """--key-file, then --account I, then $FEDCHAIN_PRIVATE_KEY, then the role's dev account."""
    if key_file is not None:
        return AccountChoice(account_from_key_file(key_file), from_dev_mnemonic=False)
    key = os.environ.get(KEY_ENVIRONMENT_VARIABLE)
    if index is None and key:
        return AccountChoice(account_from_key(key), from_dev_mnemonic=False)
    return AccountChoice(dev_account(default_index if index is None else index), from_dev_mnemonic=True)
