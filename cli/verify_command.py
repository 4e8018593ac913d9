"""`run.py verify --round N|all`: recompute finalized rounds from the chain and IPFS."""

from __future__ import annotations

import argparse
import json

from chain.contract import RoundState
from cli.common import UserError, add_chain_option, add_home_option, add_ipfs_option, attached_contract, home_of
from protocol.verification import verify_round
from storage.factory import open_store


def register(commands: argparse._SubParsersAction) -> None:
    verify = commands.add_parser("verify")
    add_home_option(verify)
    add_chain_option(verify)
    add_ipfs_option(verify)
    verify.add_argument("--round", default="all", help="a round number, or all (default)")
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(handler=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    contract = attached_contract(args, 0)
    store = open_store(args.ipfs, home_of(args))
    if args.round == "all":
        rounds = [r.round_id for r in contract.rounds(1, contract.round_count()) if r.state is RoundState.FINALIZED]
    elif args.round.isdigit():
        rounds = [int(args.round)]
    else:
        raise UserError(f"--round takes a round number or 'all', not {args.round!r}")
    results = [verify_round(contract, store, round_id) for round_id in rounds]
    if args.json:
        print(json.dumps([r.to_json() for r in results], indent=2))
    else:
        for result in results:
            print(("ok   " if result.ok else "FAIL ") + result.message)
        print(f"{sum(r.ok for r in results)}/{len(results)} finalized rounds verified")
    return 0 if all(r.ok for r in results) else 1
