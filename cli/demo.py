"""`run.py demo`: the whole system in one process: deploy, N clients, R rounds, a JSON summary.

The organization and the clients are the same services `run.py organization` and
`run.py client` run. The chain is by default a private Anvil for this run, so the clients of a
round train at once in worker processes, one per core (client/pool.py); on the in-process EVM,
which other processes cannot reach, and when clients are hostile or their data changes between
rounds (objects of this process), they train in threads of this process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any, get_args

import torch

from chain.accounts import dev_account, require_dev_chain
from chain.backends import Chain, run_chain
from chain.history import HistoryReader
from chain.metering import RequestMeter, meter
from chain.migrate import deploy
from cli.common import (
    UserError,
    add_chain_option,
    add_dev_keys_option,
    add_home_option,
    add_ipfs_option,
    deployment_book,
    home_of,
    open_ipfs,
)
from cli.continual_demo import continual_report, continual_schedule, demo_ewc_lambda, switch_data
from cli.ipfs_address import daemon_multiaddr
from cli.learning_options import add_client_training_options, add_data_options, add_plan_options, plan_and_strategy
from cli.secure_options import SecureDemo, add_secure_options, check_secure_arguments
from client.adversary import ATTACKS, make_hostile
from client.pool import ClientPool, ClientProcessPool, ClientThreadPool, Connection, SimulatedClient, build_client
from client.service import ClientSettings
from mlprocessor.continual import PermutedScenario, TaskSchedule
from mlprocessor.data import load_data
from mlprocessor.partition import partition
from organization.service import Organization, OrganizationSettings, RoundOutcome
from protocol.timing import PhaseTimer
from protocol.verification import verify_round
from storage.model_file import Encoding

SUMMARY_FILE = "demo-summary.json"
SECONDS_NOTE = ("per round, `seconds` sums each phase over the organization and every client; clients run "
                "concurrently, so the sum can exceed `wall_seconds`, the round's elapsed time")
CLIENT_FUNDING_ETHER = 1  # a round costs a client ~60k gas; Ganache gives account 0 only 1,000 ether


def register(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser("demo")
    add_home_option(demo)
    add_chain_option(demo, default="auto")
    add_dev_keys_option(demo)
    add_ipfs_option(demo)
    demo.add_argument("--clients", type=int, default=5)
    demo.add_argument("--rounds", type=int, default=5)
    demo.add_argument("--tasks", type=int, default=1,
                      help="continual learning on permuted MNIST: this many tasks, every client switching together")
    demo.add_argument("--rounds-per-task", type=int, default=None, help="with --tasks: rounds = tasks x this")
    add_plan_options(demo)
    add_data_options(demo)
    add_client_training_options(demo)
    demo.add_argument("--encoding", choices=get_args(Encoding), default="float32",
                      help="how clients store their updates (float16 and int8 are lossy and smaller)")
    demo.add_argument("--workers", type=int, default=None,
                      help="clients training at once (default: one per core, each on one torch thread)")
    demo.add_argument("--attackers", type=int, default=0, help="how many of the clients are hostile")
    demo.add_argument("--attack", choices=ATTACKS, default="sign-flip", help="what the hostile clients do")
    demo.add_argument("--json", type=Path, default=None,
                      help=f"write the JSON summary here (default: {SUMMARY_FILE} in the home)")
    add_secure_options(demo, "demo")
    demo.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    if args.clients < 1 or args.rounds < 1:
        raise UserError("--clients and --rounds must be at least 1")
    check_secure_arguments(args)
    schedule = continual_schedule(args)
    args.ewc_lambda = demo_ewc_lambda(args)
    _status("starting the chain" if args.chain == "auto" else "connecting to the chain")
    with run_chain(args.chain, home_of(args)) as chain:
        if not args.allow_dev_keys:  # the demo signs with the public dev mnemonic's accounts
            require_dev_chain(chain)
        return _run_demo(args, chain, schedule)


def _run_demo(args: argparse.Namespace, chain: Chain, schedule: TaskSchedule) -> int:
    home = home_of(args)
    started = time.perf_counter()
    workers = args.workers or min(args.clients, os.cpu_count() or 1)
    torch.set_num_threads(1)  # as in every worker: intra-op threads would change float sums, and so the CIDs
    client_settings = ClientSettings(ewc_lambda=args.ewc_lambda, encoding=args.encoding, seed=args.seed)
    in_processes = (chain.endpoint is not None and schedule.tasks == 1 and args.attackers == 0
                    and not args.secure_aggregation)
    processes = ClientProcessPool(client_settings, workers) if in_processes else None  # they start up meanwhile

    _status("connecting to IPFS, loading the data")
    store = open_ipfs(args, writes=True)
    train, test = load_data(args.data, args.test_data)
    parts = partition(train.y, args.clients, args.partition, seed=args.seed, alpha=args.alpha)
    scenario = PermutedScenario(schedule, train, test, parts)
    simulated = [SimulatedClient("demo client", index, train.subset(parts[index])) for index in range(args.clients)]
    plan, strategy = plan_and_strategy(args)
    quiet = _quiet_log
    _status(f"deploying the contract on {chain.name}")
    contract = deploy(chain, dev_account(0), deployment_book(chain, home), reset=True, log=quiet)
    print(f"fedchain demo: {args.clients} clients x {args.rounds} rounds, {args.model}, {args.partition}, "
          f"{args.strategy}; chain: {chain.name}; IPFS: {args.ipfs}; contract {contract.address}; home {home}")
    settings = OrganizationSettings(model=args.model, strategy=strategy, plan=plan, quorum=args.clients,
                                    target=args.clients, deadline_blocks=10_000, max_samples=args.max_samples,
                                    seed=args.seed)
    organization = Organization(contract, store, settings, test, log=quiet)
    _status(f"registering {args.clients} clients")
    state_root = home / "demo-runs" / contract.address
    clients = []
    for spec in simulated:
        client = build_client(contract, store, spec, client_settings, state_root)
        contract.fund(client.address, CLIENT_FUNDING_ETHER)
        client.ensure_registered()
        clients.append(client)
    clients = make_hostile(clients, args.attackers, args.attack, log=quiet)
    if processes is not None:
        store_address = daemon_multiaddr(args.ipfs) or "embedded"
        processes.connect(Connection(chain.endpoint, contract.address, store_address, home, state_root), simulated)

    secure = SecureDemo(organization, clients, args, workers) if args.secure_aggregation else None
    rounds = []
    requests = meter(chain.web3)  # the organization's chain work per round (clients in processes have their own)
    with processes or ClientThreadPool(clients, workers) as pool:  # on Ctrl-C, closing does not wait for clients
        for number in range(1, args.rounds + 1):
            switch_data(clients, scenario, number)
            rounds.append(secure.run_round(number, args.rounds) if secure
                          else _run_round(organization, pool, requests, number, args.rounds))
            rounds[-1].update(continual_report(organization, scenario, number, rounds[-1]["result_cid"]))
    failures = [r for r in rounds if r["state"] != "finalized"]
    finalized = [r for r in rounds if r["state"] == "finalized"]
    _status(f"verifying {len(finalized)} finalized round(s) from the chain and IPFS")
    verified = [verify_round(contract, store, r["round"]) for r in finalized]
    mismatches = [v for v in verified if not v.ok]
    summary = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "handler"},
        "contract": contract.address, "chain": chain.name, "workers": workers,
        "clients_in": "processes" if processes is not None else "threads",
        "torch_threads": torch.get_num_threads(), "seconds_note": SECONDS_NOTE, "rounds": rounds,
        "verified": [v.to_json() for v in verified],
        "history": [record.to_json() for record in HistoryReader(contract).rounds()],
        "total_seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),  # this process only
    }
    summary_path = args.json or home / SUMMARY_FILE
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    final = rounds[-1]["accuracy"]
    accuracy = f"{final:.2%}" if final is not None else "-"
    print(f"done in {summary['total_seconds']:.1f}s: final test accuracy {accuracy}; "
          f"{len(verified) - len(mismatches)}/{len(verified)} rounds verified; summary in {summary_path}")
    for problem in failures:
        print(f"error: round {problem['round']} was {problem['state']}", file=sys.stderr)
    for mismatch in mismatches:
        print(f"error: {mismatch.message}", file=sys.stderr)
    return 1 if failures or mismatches else 0


def _run_round(organization: Organization, pool: ClientPool, requests: RequestMeter, number: int,
               total: int) -> dict[str, Any]:
    started, (requests_before, blocks_before) = time.perf_counter(), requests.snapshot()
    timer = PhaseTimer()
    with timer.phase("chain"):
        round_id, opened = organization.open_round()
    progress = _Progress(number, total, pool.count)

    def landed() -> None:
        progress.advance()
        organization.screen_landed(round_id, timer)  # while the others still train

    participations = pool.participate_all(round_id, landed)
    progress.done()
    outcome: RoundOutcome = organization.close_round(round_id)
    for participation in participations:
        timer.merge(participation.timer)
    timer.merge(outcome.timer)
    submissions = organization.history.round(round_id).submissions  # in on-chain order
    wall = time.perf_counter() - started
    accuracy = f"{outcome.accuracy:.2%}" if outcome.accuracy is not None else "-"
    print(f"round {round_id}/{total}: test accuracy {accuracy}, loss {outcome.loss or float('nan'):.4f}, "
          f"{sum(outcome.accepted)}/{pool.count} updates accepted, {wall:.1f}s -> {outcome.result_cid}")
    return {
        "round": round_id, "state": str(outcome.state), "accuracy": outcome.accuracy, "loss": outcome.loss,
        "base_cid": str(outcome.base_cid), "result_cid": str(outcome.result_cid) if outcome.result_cid else None,
        "update_cids": [str(s.cid) for s in submissions],
        "accepted": outcome.accepted, "rejections": outcome.to_json()["rejections"],
        "tx_hashes": {"open": opened.tx_hash, "submissions": [s.tx_hash for s in submissions],
                      "close": outcome.tx_hash},
        "gas_used": {"open": opened.gas_used, "submissions": [s.gas_used for s in submissions],
                     "close": outcome.gas_used},
        "seconds": timer.totals(), "wall_seconds": round(wall, 3),
        "organization_rpc": {"requests": requests.snapshot()[0] - requests_before,
                             "log_blocks": requests.snapshot()[1] - blocks_before},
        "skipped": [p.skipped for p in participations if p.skipped],
    }


def _status(line: str) -> None:
    """What a long phase is doing, so no phase is silent (stderr: stdout keeps the results)."""
    print(f"{line}…", file=sys.stderr, flush=True)


class _Progress:
    """A progress bar on a terminal; plain lines (one per client done) when output is redirected."""

    def __init__(self, number: int, total: int, clients: int) -> None:
        self._label, self._clients, self._done = f"round {number}/{total}", clients, 0
        self._terminal = sys.stderr.isatty()
        self._draw()

    def advance(self) -> None:
        self._done += 1
        self._draw()

    def _draw(self) -> None:
        if self._terminal:
            filled = round(20 * self._done / self._clients)
            sys.stderr.write(f"\r{self._label} [{'#' * filled}{'.' * (20 - filled)}] "
                             f"{self._done}/{self._clients} clients trained")
        else:
            sys.stderr.write(f"{self._label}: {self._done}/{self._clients} clients trained\n")
        sys.stderr.flush()

    def done(self) -> None:
        if self._terminal:
            sys.stderr.write("\r\033[K")
        _status(f"{self._label}: aggregating, evaluating and finalizing")


def _quiet_log(_: str) -> None:
    """The demo prints its own per-round lines; the services' logs would repeat them."""
