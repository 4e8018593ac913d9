"""`run.py organization` and `run.py client`: the two services as separate processes.

With `--port` each serves its web interface (bound to 127.0.0.1 unless `--host` says otherwise)
and acts when the user clicks, or by itself with the automatic switch; without it (or with
`--headless`) it runs the automatic loop only, printing what it does.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from eth_account.signers.local import LocalAccount
from flask import Flask
from werkzeug.serving import make_server

from chain.contract import FederatedLearningContract
from chain.migrate import deploy
from cli.common import (
    account_of,
    add_account_options,
    add_chain_option,
    add_contract_option,
    add_home_option,
    add_ipfs_option,
    connect_chain,
    deployment_book,
    find_contract,
    home_of,
    open_ipfs,
    wait_for_contract,
)
from cli.learning_options import (
    add_client_training_options,
    add_data_options,
    add_plan_options,
    add_task_option,
    plan_and_strategy,
    task_of,
)
from cli.said_once import SaidOnce
from cli.secure_options import add_secure_options, check_secure_arguments, secure_driver_of, secure_settings_of
from cli.service_lock import sole_service
from cli.stopping import FORCED_EXIT_CODE
from client.driver import ParticipantDriver
from client.keys import refuse_shared_home
from client.service import Client, ClientSettings
from client.state import ClientState
from client.web import ClientNode
from client.web import create_app as client_app
from mlprocessor.data import DataError, Dataset
from mlprocessor.ewc import DEFAULT_EWC_LAMBDA
from mlprocessor.partition import partition
from mlprocessor.task import Task
from organization.driver import RoundDriver
from organization.service import Organization, OrganizationSettings
from organization.web import OrganizationNode
from organization.web import create_app as organization_app
from organization.web.journal import RoundJournal, journal_path
from protocol.errors import UserError
from webui.link import ChainLink
from webui.node import ServiceNode

INTERRUPTED = FORCED_EXIT_CODE  # the exit status of a service stopped by a signal, as for every command
UNTIL_STOPPED = sys.maxsize  # rounds for a headless organization without --rounds


def register(commands: argparse._SubParsersAction) -> None:
    organization = commands.add_parser("organization")
    client = commands.add_parser("client")
    for parser in (organization, client):
        add_home_option(parser)
        add_chain_option(parser)
        add_contract_option(parser)
        add_ipfs_option(parser)
        add_account_options(parser)
        add_data_options(parser)
        parser.add_argument("--poll", type=float, default=1.0, help="seconds between looks at the chain")
        parser.add_argument("--torch-threads", type=int, default=1,
                            help="torch threads (default 1: several services share the cores)")
        parser.add_argument("--port", type=int, default=None,
                            help="serve the web interface on this port (without it: headless)")
        parser.add_argument("--host", default="127.0.0.1",
                            help="address the web interface listens on (default 127.0.0.1: this machine only)")
        parser.add_argument("--headless", action="store_true",
                            help="no web interface, only the automatic loop (the default without --port)")
        parser.add_argument("--auto", action="store_true", help="web interface: start with the automatic switch on")
    add_plan_options(organization)
    organization.add_argument("--rounds", type=int, default=None,
                              help="headless: close this many rounds, then exit (default: run until stopped)")
    organization.add_argument("--quorum", type=int, default=2, help="fewest updates a round may be finalized with")
    organization.add_argument("--target", type=int, default=None,
                              help="close a round as soon as this many updates arrived (default: the quorum)")
    organization.add_argument("--deadline-blocks", type=int, default=60, help="blocks a round stays open")
    organization.add_argument("--window-blocks", type=int, default=OrganizationSettings.window_blocks,
                              help="blocks a round collects at least before the target may close it (on-chain; "
                                   "sybils submitting at the open cannot close it before honest clients answer)")
    organization.add_argument("--confirmations", type=int, default=0,
                              help="screen, close and finalize only on submissions this many blocks deep (0 on "
                                   "dev chains; a few on a public network, against reorgs)")
    organization.add_argument("--root-data", default=None, metavar="PATH",
                              help="the organization's own small clean data set (the task's data format; about 100 "
                                   "examples): updates pointing against the model's descent direction on it are "
                                   "rejected (FLTrust's root data; stops sign-flipping minorities on skewed data)")
    add_secure_options(organization, "organization")
    organization.set_defaults(handler=run_organization)

    add_task_option(client)
    add_client_training_options(client)
    client.add_argument("--num-partitions", type=int, default=5, help="the data is split this many ways")
    client.add_argument("--partition-index", type=int, default=None,
                        help="which part is this client's (default: account index - 1)")
    client.add_argument("--rounds", type=int, default=None, help="headless: answer this many rounds, then exit")
    client.add_argument("--confirmations", type=int, default=0,
                        help="decide from the chain this many blocks below its head (0 on dev chains; a few on a "
                             "public network: a round opened in a block that a reorg removes is never trained on)")
    add_secure_options(client, "client")
    client.add_argument("--consolidate", action="store_true",
                        help="EWC: consolidate what was learned on the current data at the next round")
    client.set_defaults(handler=run_client)


def _web(args: argparse.Namespace) -> bool:
    if args.headless and args.port is not None:
        raise UserError("--headless and --port exclude each other: --port serves the web interface")
    check_secure_arguments(args)
    return args.port is not None


def _say(line: str) -> None:
    print(line, flush=True)


def _link(args: argparse.Namespace, account: LocalAccount) -> ChainLink:
    home = home_of(args)
    return ChainLink(lambda: connect_chain(args, say=_say), lambda chain: deployment_book(chain, home), account,
                     args.contract)


def _serve(app_of: Callable[[Any, int, str], Flask], node: ServiceNode, args: argparse.Namespace, role: str) -> int:
    """Serve until interrupted; the node's automatic loop runs beside the server."""
    server = make_server(args.host, args.port, app_of(node, args.port, args.host), threaded=True)
    node.auto = args.auto
    node.start()
    _say(f"{role} web interface on http://{args.host}:{server.port} (account {node.link.account.address})")
    try:
        server.serve_forever()  # returns only when Ctrl-C or SIGTERM (cli.stopping) interrupts it
    finally:
        node.stop()
        server.server_close()
    return INTERRUPTED


def _organization_contract(args: argparse.Namespace) -> FederatedLearningContract:
    """`--contract`, else the deployment recorded in the home, else a new one (recorded for the clients)."""
    chain = connect_chain(args, wait=True, say=_say)
    account = account_of(args, 0)
    try:
        return find_contract(args, chain, account)
    except UserError:
        if args.contract:
            raise
    return deploy(chain, account, deployment_book(chain, home_of(args)), log=_say)


def run_organization(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.torch_threads)
    web = _web(args)
    home = home_of(args)
    with sole_service(home / "organization" / "service.lock", "organization service"):
        return _run_organization(args, web, home)


def _run_organization(args: argparse.Namespace, web: bool, home: Path) -> int:
    task = _task(args)
    plan, strategy = plan_and_strategy(args, task)
    _, test = _task_data(task, args)
    settings = OrganizationSettings(task=task.name, strategy=strategy, plan=plan, quorum=args.quorum,
                                    target=args.target or args.quorum, deadline_blocks=args.deadline_blocks,
                                    window_blocks=args.window_blocks, confirmations=args.confirmations,
                                    max_samples=args.max_samples, seed=args.seed, root_data=args.root_data)
    settings.check()  # before anything is deployed, opened or served with settings no round could finalize with
    store = open_ipfs(args, wait=True, say=_say, writes=True)
    if args.secure_aggregation:
        refuse_shared_home(home, None)
    if web:
        secure = secure_settings_of(settings, args.phase_blocks, args.quorum, args.threshold) \
            if args.secure_aggregation else None
        node = OrganizationNode(_link(args, account_of(args, 0)), store, settings, test, home / "organization",
                                args.poll, _say, secure)
        return _serve(organization_app, node, args, "organization")
    contract = _organization_contract(args)
    organization = Organization(contract, store, settings, test, SaidOnce(_say))
    journal = RoundJournal(journal_path(home / "organization", contract))  # rejection reasons for the web pages
    _say(f"organization {contract.account.address} on {contract.chain.name}, contract {contract.address}")
    if args.rounds is None:
        _say("organization: running rounds until stopped (Ctrl-C or SIGTERM; --rounds R stops after R)")
    driver = (secure_driver_of(organization, args.phase_blocks, args.quorum, args.threshold) if args.secure_aggregation
              else RoundDriver(organization))
    driver.run(args.rounds or UNTIL_STOPPED, poll_seconds=args.poll, on_outcome=journal.record_outcome)
    _say(f"organization: closed {args.rounds} round(s) as --rounds {args.rounds} asked: stopping")
    return 0


def _task(args: argparse.Namespace) -> Task:
    try:
        return task_of(args)
    except ValueError as error:
        raise UserError(str(error)) from None


def _task_data(task: Task, args: argparse.Namespace) -> tuple[Dataset, Dataset]:
    try:
        return task.load_data(args.data, args.test_data)
    except DataError as error:
        raise UserError(str(error)) from None


def _client_data(task: Task, args: argparse.Namespace) -> tuple[Dataset, str, Path | None]:
    """This client's training data, a sentence saying what it is, and the path to watch: with
    ``--data PATH`` all of it (in the task's format), reloaded when its files change; otherwise one
    part of the task's bundled data (its natural partition when it has one, e.g. a speaker)."""
    if args.data is not None and Path(args.data).exists():
        path = Path(args.data)
        try:
            return task.load_participant_data(path), f"all data in {path} (watched for changes)", path
        except DataError as error:
            raise UserError(str(error)) from None
    train, _ = _task_data(task, args)
    index = args.partition_index if args.partition_index is not None else max(0, (args.account or 1) - 1)
    parts = task.natural_partition(train, args.num_partitions) or partition(
        train.y, args.num_partitions, args.partition, seed=args.seed, alpha=args.alpha)
    if not 0 <= index < len(parts):
        raise UserError(f"--partition-index {index} is outside 0..{len(parts) - 1}")
    return train.subset(parts[index]), f"partition {index} of {args.num_partitions} ({args.partition})", None


def run_client(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.torch_threads)
    web = _web(args)
    if args.confirmations < 0:
        raise UserError(f"--confirmations is 0 or more blocks, not {args.confirmations}")
    home = home_of(args)
    account = account_of(args, 1)
    task = _task(args)
    data, description, data_dir = _client_data(task, args)
    state = ClientState(home / "clients" / account.address)
    state.check()
    if args.secure_aggregation:
        refuse_shared_home(home, account.address)
    ewc_lambda = DEFAULT_EWC_LAMBDA if args.ewc_lambda is None else args.ewc_lambda
    settings = ClientSettings(ewc_lambda=ewc_lambda, seed=args.seed, task=task.name, confirmations=args.confirmations)
    store = open_ipfs(args, wait=True, say=_say, writes=True)
    if web:
        node = ClientNode(_link(args, account), store, data, state, settings, description, args.poll, _say,
                          data_dir=data_dir, secure=args.secure_aggregation)
        if args.consolidate:
            state.request_consolidation()
        return _serve(client_app, node, args, "client")
    chain = connect_chain(args, wait=True, say=_say)
    contract = wait_for_contract(args, chain, account, _say)
    client = Client(contract, store, data, state, settings, SaidOnce(_say), data_dir=data_dir)
    if args.consolidate:
        state.request_consolidation()
    _say(f"client {account.address} on {chain.name}: {description}, {len(data)} examples")
    ParticipantDriver(client, secure=args.secure_aggregation).run(poll_seconds=args.poll, max_rounds=args.rounds)
    _say(f"client: answered {args.rounds} round(s) as --rounds {args.rounds} asked: stopping")
    return 0

