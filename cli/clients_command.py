"""`run.py clients list|allow|remove|mode`: the organization manages who may take part."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from web3 import Web3

from chain.contract import FederatedLearningContract
from chain.registry import known_clients
from chain.transactions import TxResult
from cli.common import add_account_options, add_chain_option, add_home_option, attached_contract
from protocol.errors import UserError

REGISTRATION_MODES = ("open", "allow-list")


def register(commands: argparse._SubParsersAction) -> None:
    clients = commands.add_parser("clients", help="list the clients, allow or remove them, switch who may register")
    actions = clients.add_subparsers(dest="clients_action", required=True, metavar="ACTION")

    list_ = actions.add_parser("list", help="every allowed or registered client and its status, from the chain")
    list_.add_argument("--json", action="store_true", help="print JSON instead of a table")
    list_.set_defaults(handler=run_list)

    allow = actions.add_parser("allow", help="put addresses on the allow-list (owner only)")
    allow.add_argument("addresses", nargs="+", metavar="ADDRESS")
    allow.set_defaults(handler=run_allow)

    remove = actions.add_parser("remove", help="remove clients: they can no longer submit (owner only)")
    remove.add_argument("addresses", nargs="+", metavar="ADDRESS")
    remove.set_defaults(handler=run_remove)

    mode = actions.add_parser("mode", help="open registration to anyone, or limit it to the allow-list (owner only)")
    mode.add_argument("mode", choices=REGISTRATION_MODES)
    mode.set_defaults(handler=run_mode)

    for action in (list_, allow, remove, mode):
        add_home_option(action)
        add_chain_option(action)
    for action in (allow, remove, mode):
        add_account_options(action)


def _addresses(texts: list[str]) -> list[str]:
    """All the addresses checked before the first transaction is sent."""
    bad = [text for text in texts if not Web3.is_address(text)]
    if bad:
        raise UserError(f"not an Ethereum address: {', '.join(bad)}")
    return [Web3.to_checksum_address(text) for text in texts]


def run_list(args: argparse.Namespace) -> int:
    contract = attached_contract(args, 0)
    records = known_clients(contract)
    mode = REGISTRATION_MODES[0] if contract.registration_open() else REGISTRATION_MODES[1]
    if args.json:
        json.dump({"contract": contract.address, "registration": mode, "clients": [
            {"address": r.address, "status": str(r.status), "id": r.client_id, "last_round": r.last_round,
             "encryption_key": r.encryption_key.hex() if r.encryption_key else None} for r in records
        ]}, sys.stdout, indent=2)
        print()
        return 0
    print(f"contract {contract.address} on {contract.chain.name}: registration {mode}, {len(records)} client(s)")
    print(f"{'id':>5}  {'status':<10}  {'last round':>10}  {'address':<42}  encryption key")
    for r in records:
        key = "yes" if r.encryption_key else "-"
        print(f"{r.client_id or '-':>5}  {r.status!s:<10}  {r.last_round or '-':>10}  {r.address:<42}  {key}")
    return 0


def _for_each_address(args: argparse.Namespace, done: str,
                      send: Callable[[FederatedLearningContract, str], TxResult]) -> FederatedLearningContract:
    """Send one transaction per address given, saying what each did."""
    addresses = _addresses(args.addresses)
    contract = attached_contract(args, 0)
    for address in addresses:
        print(f"{done} {address} (tx {send(contract, address).tx_hash})")
    return contract


def run_allow(args: argparse.Namespace) -> int:
    contract = _for_each_address(args, "allowed", FederatedLearningContract.allow_client)
    if contract.registration_open():
        print("note: registration is open, so anyone may register anyway; `run.py clients mode allow-list` limits it")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    _for_each_address(args, "removed", FederatedLearningContract.remove_client)
    return 0


def run_mode(args: argparse.Namespace) -> int:
    contract = attached_contract(args, 0)
    result = contract.set_registration_open(args.mode == "open")
    print(f"registration {args.mode} (tx {result.tx_hash})")
    return 0
