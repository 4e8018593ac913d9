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
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, get_args

import torch

from chain.accounts import dev_account
from chain.backends import Chain, require_dev_chain, run_chain
from chain.contract import CONTRACT_NAME
from chain.deployments import DeploymentBook
from chain.metering import RequestMeter, meter
from chain.migrate import deploy
from chain.sending_policy import SendingPolicy, gwei_to_wei
from cli.common import (
    add_chain_option,
    add_dev_keys_option,
    add_fee_option,
    add_home_option,
    add_ipfs_option,
    deployment_book,
    home_of,
    open_ipfs,
)
from cli.continual_demo import (
    consolidation_report,
    continual_report,
    continual_schedule,
    demo_ewc_lambda,
    switch_data,
    task_announcement,
)
from cli.ipfs_address import daemon_multiaddr
from cli.learning_options import (
    add_client_training_options,
    add_data_options,
    add_plan_options,
    plan_and_strategy,
    task_of,
)
from cli.round_summary import accuracy_text, outcome_record, round_line
from cli.secure_options import SecureDemo, add_secure_options, check_secure_arguments
from client.adversary import ATTACKS, make_hostile
from client.pool import ClientPool, ClientProcessPool, ClientThreadPool, Connection, SimulatedClient, build_client
from client.service import Client, ClientSettings
from mlprocessor.continual import PermutedScenario, TaskSchedule
from mlprocessor.data import DataError
from mlprocessor.partition import partition
from organization.driver import RoundDriver
from organization.service import Organization, OrganizationSettings
from protocol.errors import UserError
from protocol.timing import PhaseTimer
from protocol.verification import verify_round
from storage.model_file import Encoding

SUMMARY_FILE = "demo-summary.json"
SECONDS_NOTE = ("per round, `seconds` sums each phase over the organization and every client; clients run "
                "concurrently, so the sum can exceed `wall_seconds`, the round's elapsed time")
# a screening pass reads the round's logs from its opening block: while clients train, screen at most
# this many times a round (every client's landing, up to this many clients), not once per client
SCREENING_PASSES = 20
CLIENT_FUNDING_ETHER = 1  # a round costs a client ~60k gas; Ganache gives account 0 only 1,000 ether
ENROLLING_THREADS = 8  # clients funded and registered at once: the node's answers overlap this process's work


def register(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser("demo")
    add_home_option(demo)
    add_chain_option(demo, default="auto")
    add_dev_keys_option(demo)
    add_fee_option(demo)  # every transaction: this process's and the client worker processes' (pool.Connection)
    add_ipfs_option(demo)
    demo.add_argument("--clients", type=int, default=5)
    demo.add_argument("--rounds", type=int, default=5)
    demo.add_argument("--continual-tasks", type=int, default=1, metavar="N",
                      help="continual learning on permuted MNIST: N tasks, every client switching together")
    demo.add_argument("--rounds-per-task", type=int, default=None,
                      help="with --continual-tasks: rounds = tasks x this")
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
    try:
        args.task = task_of(args).name
    except ValueError as error:
        raise UserError(str(error)) from None
    schedule = continual_schedule(args)
    args.ewc_lambda = demo_ewc_lambda(args)
    _status("starting the chain" if args.chain == "auto" else "connecting to the chain")
    with run_chain(args.chain, home_of(args)) as chain:
        if not args.allow_dev_keys:  # the demo signs with the public dev mnemonic's accounts
            require_dev_chain(chain)
        SendingPolicy(max_fee_wei=gwei_to_wei(args.max_fee_gwei)).apply_to(chain.web3)  # this process's senders
        return _run_demo(args, chain, schedule)


def _run_demo(args: argparse.Namespace, chain: Chain, schedule: TaskSchedule) -> int:
    home = home_of(args)
    started = time.perf_counter()
    workers = args.workers or min(args.clients, os.cpu_count() or 1)
    torch.set_num_threads(1)  # as in every worker: intra-op threads would change float sums, and so the CIDs
    task = task_of(args)
    client_settings = ClientSettings(ewc_lambda=args.ewc_lambda, encoding=args.encoding, seed=args.seed,
                                     task=task.name)
    in_processes = (chain.endpoint is not None and schedule.tasks == 1 and args.attackers == 0
                    and not args.secure_aggregation)
    processes = ClientProcessPool(client_settings, workers) if in_processes else None  # they start up meanwhile

    _status("connecting to IPFS, loading the data")
    store = open_ipfs(args, writes=True)
    try:
        train, test = task.load_data(args.data, args.test_data)
    except DataError as error:
        raise UserError(str(error)) from None
    parts = task.natural_partition(train, args.clients) or partition(
        train.y, args.clients, args.partition, seed=args.seed, alpha=args.alpha)
    scenario = PermutedScenario(schedule, train, test, parts)
    simulated = [SimulatedClient("demo client", index, train.subset(parts[index])) for index in range(args.clients)]
    plan, strategy = plan_and_strategy(args, task)
    quiet = _quiet_log
    _status(f"deploying the contract on {chain.name}")
    book = DeploymentBook(None) if args.chain == "auto" else deployment_book(chain, home)  # a private chain ends
    contract = deploy(chain, dev_account(0), book, reset=True, log=quiet)
    print(f"fedchain demo: {args.clients} clients x {args.rounds} rounds, {task.name}, {args.partition}, "
          f"{args.strategy}; chain: {chain.name}; IPFS: {args.ipfs}; contract {contract.address}; home {home}")
    settings = OrganizationSettings(task=task.name, strategy=strategy, plan=plan, quorum=args.clients,
                                    target=args.clients, deadline_blocks=10_000, max_samples=args.max_samples,
                                    seed=args.seed, window_blocks=0)  # it closes once every one of its clients answered
    organization = Organization(contract, store, settings, test, log=quiet)
    _status(f"registering {args.clients} clients")
    state_root = _fresh_state_root(home, book.get(chain.web3.eth.chain_id, CONTRACT_NAME).tx_hash)

    def enroll(spec: SimulatedClient) -> Client:
        client = build_client(contract, store, spec, client_settings, state_root)
        contract.fund(client.address, CLIENT_FUNDING_ETHER)  # the funder's transfers take turns, one nonce each
        client.ensure_registered()  # from the client's own account: overlaps the next clients' funding
        return client

    clients: list[Client] = []
    with ThreadPoolExecutor(max_workers=ENROLLING_THREADS) as enrolling:
        for client in enrolling.map(enroll, simulated):
            if processes is None:  # worker processes build their own: here ~0.4 MiB each (a web3 contract) is let go
                clients.append(client)
    clients = make_hostile(clients, args.attackers, args.attack, log=quiet)
    if processes is not None:
        store_address = daemon_multiaddr(args.ipfs) or "embedded"
        processes.connect(Connection(chain.endpoint, contract.address, store_address, home, state_root,
                                     gwei_to_wei(args.max_fee_gwei)), simulated)

    setup_seconds = time.perf_counter() - started  # data, deployment, funding and registering the clients
    secure = SecureDemo(organization, clients, args, workers) if args.secure_aggregation else None
    driver = RoundDriver(organization)
    rounds = []
    requests = meter(chain.web3)  # the organization's chain work per round (clients in processes have their own)
    with processes or ClientThreadPool(clients, workers) as pool:  # on Ctrl-C, closing does not wait for clients
        for number in range(1, args.rounds + 1):
            if (line := task_announcement(scenario, number, args.ewc_lambda)) is not None:
                print(line)
            if processes is None:  # clients in worker processes run one task, on the data they were given
                switch_data(clients, scenario, number)
            record = (secure.run_round() if secure else _run_round(driver, pool, requests, number, args.rounds))
            record.update(continual_report(organization, scenario, number, record["result_cid"]))
            print(round_line(record, args.rounds, continual=schedule.tasks > 1))
            if (line := consolidation_report(state_root, scenario, number)) is not None:
                print(line)
            rounds.append(record)
    failures = [r for r in rounds if r["state"] != "finalized"]
    finalized = [r for r in rounds if r["state"] == "finalized"]
    _status(f"verifying {len(finalized)} finalized round(s) from the chain and IPFS")
    verifying = time.perf_counter()
    verified = [verify_round(contract, store, r["round"]) for r in finalized]
    verify_seconds = time.perf_counter() - verifying
    mismatches = [v for v in verified if not v.ok]
    summary = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "handler"},
        "contract": contract.address, "chain": chain.name, "workers": workers,
        "clients_in": "processes" if processes is not None else "threads",
        "torch_threads": torch.get_num_threads(), "seconds_note": SECONDS_NOTE, "rounds": rounds,
        "verified": [v.to_json() for v in verified],
        # the organization's reader: closed rounds it already read (gas figures included) are not read again
        "history": [record.to_json() for record in organization.history.rounds()],
        "total_seconds": round(time.perf_counter() - started, 2), "setup_seconds": round(setup_seconds, 2),
        "verify_seconds": round(verify_seconds, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),  # this process only
    }
    summary_path = args.json or home / SUMMARY_FILE
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"done in {summary['total_seconds']:.1f}s: final {accuracy_text(rounds[-1], schedule.tasks > 1)}; "
          f"{len(verified) - len(mismatches)}/{len(verified)} rounds verified; summary in {summary_path}")
    for problem in failures:
        print(f"error: round {problem['round']} was {problem['state']}", file=sys.stderr)
    for mismatch in mismatches:
        print(f"error: {mismatch.message}", file=sys.stderr)
    return 1 if failures or mismatches else 0


def _fresh_state_root(home: Path, deployment_tx: str) -> Path:
    """Where this run's clients keep their state, keyed by the deployment transaction: a contract
    address repeats on every fresh private chain, and so does the transaction there, so what is
    found under it belongs to an earlier run whose chain is gone and is cleared (reruns in one
    home give the same CIDs)."""
    root = home / "demo-runs" / deployment_tx
    shutil.rmtree(root, ignore_errors=True)
    return root


def _run_round(driver: RoundDriver, pool: ClientPool, requests: RequestMeter, number: int,
               total: int) -> dict[str, Any]:
    """One plain round through the round driver: open, every client answers (screened as each
    lands), then the driver closes it as the engine says."""
    organization = driver.organization
    started, (requests_before, blocks_before) = time.perf_counter(), requests.snapshot()
    timer = PhaseTimer()
    with timer.phase("chain"):
        round_id, opened = driver.open_round()
    progress = _Progress(number, total, pool.count)
    every = max(1, pool.count // SCREENING_PASSES)

    def landed() -> None:
        if progress.advance() % every == 0:
            organization.screen_landed(round_id, timer)  # while the others still train

    participations = pool.participate_all(round_id, landed)
    progress.done()
    outcome = driver.finish(round_id)
    for participation in participations:
        timer.merge(participation.timer)
    timer.merge(outcome.timer)
    submissions = organization.history.round(round_id).submissions  # in on-chain order
    return {
        **outcome_record(round_id, outcome, timer, time.perf_counter() - started),
        "update_cids": [str(s.cid) for s in submissions],
        "tx_hashes": {"open": opened.tx_hash, "submissions": [s.tx_hash for s in submissions],
                      "close": outcome.tx_hash},
        "gas_used": {"open": opened.gas_used, "submissions": [s.gas_used for s in submissions],
                     "close": outcome.gas_used},
        "organization_update_seconds": outcome.update_seconds,  # fetch, decode, screen, add: summed over updates
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

    def advance(self) -> int:
        """One more client done; how many are."""
        self._done += 1
        self._draw()
        return self._done

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
