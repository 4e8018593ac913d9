"""`run.py account new|show|balance`: a key of one's own, its address, and what it holds on a chain."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from eth_account import Account
from web3 import Web3

from chain.accounts import account_from_key_file
from chain.fees import ether
from cli.common import UserError, add_chain_option, add_home_option, connect_chain

KEY_FILE_MODE = 0o600


def register(commands: argparse._SubParsersAction) -> None:
    account = commands.add_parser("account", help="create a key file, show its address, or its balance on a chain")
    actions = account.add_subparsers(dest="account_action", required=True, metavar="ACTION")

    new = actions.add_parser("new", help="write a fresh private key to a new file (mode 600) and print its address")
    new.add_argument("--key-file", type=Path, required=True, metavar="PATH", help="the file to create")
    new.set_defaults(handler=run_new)

    show = actions.add_parser("show", help="print the address of a key file")
    show.add_argument("--key-file", type=Path, required=True, metavar="PATH")
    show.set_defaults(handler=run_show)

    balance = actions.add_parser("balance", help="the balance of an account on a chain")
    whose = balance.add_mutually_exclusive_group(required=True)
    whose.add_argument("--key-file", type=Path, metavar="PATH", help="the account of this key file")
    whose.add_argument("--address", metavar="ADDRESS", help="any address")
    add_home_option(balance)
    add_chain_option(balance)
    balance.set_defaults(handler=run_balance)


def write_new_key(path: Path) -> str:
    """A fresh key in a file only its owner may read; an existing file is never overwritten."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Account.create()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
    except FileExistsError:
        raise UserError(f"{path} already exists: a key file is never overwritten (choose another path)") from None
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key.key.to_0x_hex() + "\n")
    return key.address


def run_new(args: argparse.Namespace) -> int:
    address = write_new_key(args.key_file)
    print(f"wrote a new key to {args.key_file} (mode 600): keep it secret and backed up; its address:")
    print(address)
    return 0


def run_show(args: argparse.Namespace) -> int:
    print(account_from_key_file(args.key_file).address)
    return 0


def run_balance(args: argparse.Namespace) -> int:
    if args.address is not None:
        if not Web3.is_address(args.address):
            raise UserError(f"not an Ethereum address: {args.address}")
        address = Web3.to_checksum_address(args.address)
    else:
        address = account_from_key_file(args.key_file).address
    chain = connect_chain(args)
    web3 = chain.web3
    wei, chain_id = web3.eth.get_balance(address), web3.eth.chain_id
    print(f"{address} has {ether(wei)} ETH on chain {chain_id} ({chain.name})")
    if wei == 0:
        print(f"account {address} has no ETH on chain {chain_id}: fund it (send it ETH from a funded account "
              "or a faucet for test networks) before it sends transactions")
    return 0
