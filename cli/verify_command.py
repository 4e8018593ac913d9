"""`run.py verify --round N|all`: recompute finalized rounds from the chain and IPFS."""

from __future__ import annotations

import argparse
import json

from chain.contract import RoundInfo, RoundState
from cli.common import (
    UserError,
    add_chain_option,
    add_contract_option,
    add_home_option,
    add_ipfs_option,
    attached_contract,
    open_ipfs,
)
from protocol.verification import verify_round


def register(commands: argparse._SubParsersAction) -> None:
    verify = commands.add_parser(
        "verify", help="recompute finalized rounds and compare their result CIDs",
        description="Recompute finalized rounds from the chain and IPFS and compare their result CIDs. "
                    "Exit status: 0 when every round checked matches (also when no round is finalized yet, "
                    "which is said), 1 when a round does not match or cannot be recomputed.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_home_option(verify)
    add_chain_option(verify)
    add_contract_option(verify)
    add_ipfs_option(verify)
    verify.add_argument("--round", default="all", help="a round number, or all")
    verify.add_argument("--json", action="store_true", help="print JSON instead of lines")
    verify.set_defaults(handler=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    """Exit 0 when every round checked matches (also when no round is finalized yet, which is said);
    exit 1 when a round does not match or cannot be recomputed."""
    contract = attached_contract(args, 0)
    if args.round == "all":
        infos = contract.rounds(1, contract.round_count()) if contract.round_count() else []
        rounds = [r.round_id for r in infos if r.state is RoundState.FINALIZED]
        if not rounds:
            print(json.dumps([]) if args.json else _nothing_to_verify(contract.address, infos))
            return 0
    elif args.round.isdigit():
        rounds = [int(args.round)]
    else:
        raise UserError(f"--round takes a round number or 'all', not {args.round!r}")
    store = open_ipfs(args)
    results = [verify_round(contract, store, round_id) for round_id in rounds]
    if args.json:
        print(json.dumps([r.to_json() for r in results], indent=2))
    else:
        for result in results:
            print(("ok   " if result.ok else "FAIL ") + result.message)
        print(f"{sum(r.ok for r in results)}/{len(results)} finalized rounds verified")
    return 0 if all(r.ok for r in results) else 1


def _nothing_to_verify(address: str, infos: list[RoundInfo]) -> str:
    if not infos:
        return f"nothing to verify: contract {address} has no round yet"
    states = ", ".join(f"round {r.round_id} {r.state}" for r in infos)
    return f"nothing to verify: contract {address} has no finalized round yet ({states})"
