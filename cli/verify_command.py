"""`run.py verify --round N|all`: recompute finalized rounds from the chain and IPFS."""

from __future__ import annotations

import argparse
import json

from chain.contract import FederatedLearningContract, RoundInfo, RoundState
from chain.history import HistoryReader
from cli.common import (
    add_chain_option,
    add_contract_option,
    add_home_option,
    add_ipfs_option,
    add_start_chain_option,
    attached_contract,
    open_ipfs,
)
from protocol.errors import UserError
from protocol.verification import verify_round
from storage.store import ContentNotFoundError, ContentStore, StoreUnavailableError

UNREACHABLE_EXIT_CODE = 3  # 2 is argparse's usage error


def register(commands: argparse._SubParsersAction) -> None:
    verify = commands.add_parser(
        "verify", help="recompute finalized rounds and compare their result CIDs",
        description="Recompute finalized rounds from the chain and IPFS and compare their result CIDs. "
                    "Exit status: 0 when every round checked matches (also when no round is finalized yet, "
                    "which is said), 1 when a round does not match or cannot be recomputed from its content, "
                    f"{UNREACHABLE_EXIT_CODE} when some content is not reachable from --ipfs (nothing was "
                    "checked for that round: pass the IPFS that holds it).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_home_option(verify)
    add_chain_option(verify)
    add_contract_option(verify)
    add_ipfs_option(verify)
    add_start_chain_option(verify)
    verify.add_argument("--round", default="all", help="a round number, or all")
    verify.add_argument("--json", action="store_true", help="print JSON instead of lines")
    verify.set_defaults(handler=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    """Exit 0 when every round checked matches (also when no round is finalized yet, which is said);
    exit 1 when a round does not match or cannot be recomputed; exit UNREACHABLE_EXIT_CODE when no
    round failed but some content could not be fetched (an outage or a wrong --ipfs is not fraud)."""
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
    missing = {r.round_id: _unreachable(contract, store, r.round_id) for r in results
               if not r.ok and r.recomputed_cid is None}
    missing = {round_id: problem for round_id, problem in missing.items() if problem}
    if args.json:
        print(json.dumps([{**r.to_json(), "unreachable": missing.get(r.round_id)} for r in results], indent=2))
    else:
        for result in results:
            if result.round_id in missing:
                print(f"?    round {result.round_id}: content not reachable: pass --ipfs with the IPFS daemon "
                      f"that holds it ({missing[result.round_id]})")
            else:
                print(("ok   " if result.ok else "FAIL ") + result.message)
        print(f"{sum(r.ok for r in results)}/{len(results)} finalized rounds verified"
              + (f", {len(missing)} not checked (content not reachable)" if missing else ""))
    if any(not r.ok and r.round_id not in missing for r in results):
        return 1
    return UNREACHABLE_EXIT_CODE if missing else 0


def _unreachable(contract: FederatedLearningContract, store: ContentStore, round_id: int) -> str | None:
    """Why the content a round's check reads (its base, result and updates) cannot be fetched, if it
    cannot: a round that failed for that reason was not checked, and must not read as a mismatch."""
    record = HistoryReader(contract).round(round_id)
    if record is None:
        return None
    cids = [record.base_cid, record.result_cid, *(s.cid for s in record.submissions)]
    for cid in filter(None, cids):
        try:
            store.get(cid)
        except (ContentNotFoundError, StoreUnavailableError) as error:
            return str(error)
    return None


def _nothing_to_verify(address: str, infos: list[RoundInfo]) -> str:
    if not infos:
        return f"nothing to verify: contract {address} has no round yet"
    states = ", ".join(f"round {r.round_id} {r.state}" for r in infos)
    return f"nothing to verify: contract {address} has no finalized round yet ({states})"
