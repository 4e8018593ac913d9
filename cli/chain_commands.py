"""`run.py chain`, `compile`, `deploy` and `history`."""

from __future__ import annotations

import argparse
import json
import sys

from chain.accounts import dev_accounts
from chain.compiler import Artifact, collect_sources, compile_contract, find_solc, source_hash
from chain.contract import CONTRACT_NAME
from chain.history import HistoryReader
from chain.migrate import deploy
from chain.nodes import GANACHE_DEFAULT_PORT, LOOPBACK, ganache_answers, ganache_url, start_ganache
from chain.paths import CONTRACTS_DIR
from cli.common import (
    account_of,
    add_account_options,
    add_chain_option,
    add_contract_option,
    add_home_option,
    add_ipfs_option,
    add_start_chain_option,
    attached_contract,
    connect_chain,
    deployment_book,
    home_of,
    local_node_lock,
    open_ipfs_store,
)
from protocol.errors import UserError
from protocol.rejections import rejections_of_result

SHARED_CHAIN_BLOCK_SECONDS = 1.0


def register(commands: argparse._SubParsersAction) -> None:
    chain = commands.add_parser("chain")
    add_home_option(chain)
    chain.add_argument("--port", type=int, default=GANACHE_DEFAULT_PORT)
    chain.add_argument("--host", default=LOOPBACK,
                       help="address to listen on: 0.0.0.0 (or this machine's address) for a chain other machines "
                            "reach (default 127.0.0.1: this machine only)")
    chain.add_argument("--block-time", type=float, default=None,
                       help="seconds between blocks (default: a block per transaction on 127.0.0.1; "
                            f"{SHARED_CHAIN_BLOCK_SECONDS:g} s on any other address)")
    chain.set_defaults(handler=run_chain)

    compile_ = commands.add_parser("compile")
    compile_.set_defaults(handler=run_compile)

    deploy_ = commands.add_parser("deploy")
    add_home_option(deploy_)
    add_chain_option(deploy_)
    add_account_options(deploy_)
    deploy_.add_argument("--registration", choices=("open", "allow-list"), default=None,
                         help="who may register: anyone, or the addresses the owner allows "
                              "(default: open on dev chains, allow-list elsewhere)")
    deploy_.add_argument("--reset", action="store_true", help="run every migration again (a new contract)")
    deploy_.set_defaults(handler=run_deploy)

    history = commands.add_parser("history")
    add_home_option(history)
    add_chain_option(history)
    add_ipfs_option(history)  # where the result files publishing the rejection reasons live
    add_contract_option(history)
    add_start_chain_option(history)
    history.add_argument("--json", action="store_true", help="print JSON instead of a table")
    history.set_defaults(handler=run_history)


def block_time_of(args: argparse.Namespace) -> float:
    """A chain other machines reach keeps its own clock, as a real network does: services mine
    empty blocks only on a chain of their own machine, so without blocks of its own a shared dev
    chain would never reach a collection window or a deadline."""
    if args.block_time is not None:
        return args.block_time
    return 0.0 if args.host == LOOPBACK else SHARED_CHAIN_BLOCK_SECONDS


def run_chain(args: argparse.Namespace) -> int:
    home = home_of(args)
    url = ganache_url(args.port, args.host)
    database = home / "ganache" / "db"
    with local_node_lock(args.port):  # commands starting now wait for this node instead of starting their own
        if ganache_answers(ganache_url(args.port)):
            raise UserError(f"a node already answers on port {args.port}: stop it or choose another --port")
        ganache = start_ganache(args.port, database, block_time=block_time_of(args), host=args.host)
    print(f"Ganache listening on {url} (chain id 1337, database {database}, PID {ganache.process.pid})")
    print("Accounts (deterministic; 0 is the organization by convention):")
    for index, account in enumerate(dev_accounts()):
        print(f"  ({index}) {account.address}  key {account.key.to_0x_hex()}")
    print("Ctrl-C (or SIGTERM) stops it.", flush=True)
    try:  # Ctrl-C and SIGTERM print one line and unwind through here (cli.stopping)
        code = ganache.process.wait()
    finally:
        ganache.stop()
    print(f"Ganache exited by itself with code {code}", file=sys.stderr)
    return 1


def compile_if_stale(log=print) -> None:
    """Recompile when the sources no longer match the committed artifact and a compiler exists."""
    try:
        current = source_hash(collect_sources(CONTRACTS_DIR / f"{CONTRACT_NAME}.sol"))
    except FileNotFoundError:
        return  # imports not installed (no node_modules): trust the committed artifact
    if Artifact.load(CONTRACT_NAME).source_hash != current:
        find_solc()
        log(f"contracts changed since the last build: compiling {CONTRACT_NAME}")
        compile_contract(CONTRACT_NAME).save()


def run_compile(args: argparse.Namespace) -> int:
    path = compile_contract(CONTRACT_NAME).save()
    print(f"wrote {path}")
    return 0


def run_deploy(args: argparse.Namespace) -> int:
    compile_if_stale()
    chain = connect_chain(args)
    registration_open = None if args.registration is None else args.registration == "open"
    contract = deploy(chain, account_of(args, 0), deployment_book(chain, home_of(args)),
                      registration_open=registration_open, reset=args.reset)
    mode = "open" if contract.registration_open() else "allow-list"
    if args.registration not in (None, mode):
        print(f"note: the contract was deployed before, with registration {mode}: "
              f"`run.py clients mode {args.registration}` switches it (or deploy with --reset)")
    print(f"registration {mode}" + ("" if mode == "open" else ": allow clients with `run.py clients allow ADDRESS`"))
    print(contract.address)
    return 0


def run_history(args: argparse.Namespace) -> int:
    contract = attached_contract(args, 0)
    rounds = HistoryReader(contract).rounds()
    store = open_ipfs_store(args.ipfs, home_of(args))
    reasons = {r.round_id: rejections_of_result(store, r.result_cid) for r in rounds
               if r.result_cid and any(s.accepted is False for s in r.submissions)}
    if args.json:
        json.dump({"contract": contract.address, "rounds": [
            {**r.to_json(), "rejections": reasons.get(r.round_id) or {}} for r in rounds]}, sys.stdout, indent=2)
        print()
        return 0
    print(f"contract {contract.address} on {contract.chain.name}: {len(rounds)} round(s)")
    if not rounds:
        print("no round has been opened on this contract yet")
        return 0
    print(f"{'round':>5}  {'state':<9}  {'updates':>9}  {'base CID':<46}  {'result CID':<46}")
    for record in rounds:
        accepted = len(record.accepted) if record.result_cid else "-"
        result = str(record.result_cid) if record.result_cid else "-"
        updates = f"{accepted}/{len(record.submissions)}"
        print(f"{record.round_id:>5}  {record.state!s:<9}  {updates:>9}  {record.base_cid!s:<46}  {result:<46}")
        for index, reason in sorted((reasons.get(record.round_id) or {}).items()):
            print(f"{'':>5}  rejected update {index}: {reason}")
        if record.round_id in reasons and reasons[record.round_id] is None:
            print(f"{'':>5}  (rejection reasons: result file not available from IPFS)")
    return 0
