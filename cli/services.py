"""`run.py organization` and `run.py client`: the two services as separate processes.

With `--port` each serves its web interface (bound to 127.0.0.1 unless `--host` says otherwise)
and acts when the user clicks, or by itself with the automatic switch; without it (or with
`--headless`) it runs the automatic loop only, printing what it does.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import torch
from eth_account.signers.local import LocalAccount
from flask import Flask
from werkzeug.serving import make_server

from chain.contract import FederatedLearningContract
from chain.deployments import DeploymentNotFoundError
from chain.migrate import attach, deploy
from cli.common import (
    UserError,
    account_of,
    add_account_options,
    add_chain_option,
    add_home_option,
    add_ipfs_option,
    connect_chain,
    deployment_book,
    home_of,
)
from cli.learning_options import add_client_training_options, add_data_options, add_plan_options, plan_and_strategy
from client.service import Client, ClientSettings
from client.state import ClientState
from client.web import ClientNode
from client.web import create_app as client_app
from mlprocessor.data import Dataset, load_data
from mlprocessor.partition import partition
from organization.service import Organization, OrganizationSettings
from organization.web import OrganizationNode
from organization.web import create_app as organization_app
from organization.web.journal import RoundJournal, journal_path
from storage.factory import open_store
from webui.link import ChainLink
from webui.node import ServiceNode


def register(commands: argparse._SubParsersAction) -> None:
    organization = commands.add_parser("organization")
    client = commands.add_parser("client")
    for parser in (organization, client):
        add_home_option(parser)
        add_chain_option(parser)
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
    organization.add_argument("--rounds", type=int, default=5, help="headless: rounds to close before exiting")
    organization.add_argument("--quorum", type=int, default=2, help="fewest updates a round may be finalized with")
    organization.add_argument("--target", type=int, default=None,
                              help="close a round as soon as this many updates arrived (default: the quorum)")
    organization.add_argument("--deadline-blocks", type=int, default=60, help="blocks a round stays open")
    organization.set_defaults(handler=run_organization)

    add_client_training_options(client)
    client.add_argument("--num-partitions", type=int, default=5, help="the data is split this many ways")
    client.add_argument("--partition-index", type=int, default=None,
                        help="which part is this client's (default: account index - 1)")
    client.add_argument("--rounds", type=int, default=None, help="headless: answer this many rounds, then exit")
    client.set_defaults(handler=run_client)


def _web(args: argparse.Namespace) -> bool:
    if args.headless and args.port is not None:
        raise UserError("--headless and --port exclude each other: --port serves the web interface")
    return args.port is not None


def _say(line: str) -> None:
    print(line, flush=True)


def _link(args: argparse.Namespace, account: LocalAccount) -> ChainLink:
    home = home_of(args)
    return ChainLink(lambda: connect_chain(args), lambda chain: deployment_book(chain, home), account)


def _serve(app_of: Callable[[Any, int], Flask], node: ServiceNode, args: argparse.Namespace, role: str) -> int:
    """Serve until interrupted; the node's automatic loop runs beside the server."""
    server = make_server(args.host, args.port, app_of(node, args.port), threaded=True)
    node.auto = args.auto
    node.start()
    _say(f"{role} web interface on http://{args.host}:{server.port} (account {node.link.account.address})")
    try:
        server.serve_forever()
    finally:
        node.stop()
        server.server_close()
    return 0


def _organization_contract(args: argparse.Namespace) -> FederatedLearningContract:
    """Attach to the recorded deployment, deploying one first when this chain has none."""
    chain = connect_chain(args)
    book = deployment_book(chain, home_of(args))
    account = account_of(args, 0)
    try:
        return attach(chain, book, account)
    except DeploymentNotFoundError:
        return deploy(chain, account, book)


def run_organization(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.torch_threads)
    web = _web(args)
    home = home_of(args)
    plan, strategy = plan_and_strategy(args)
    _, test = load_data(args.data, args.test_data)
    settings = OrganizationSettings(model=args.model, strategy=strategy, plan=plan, quorum=args.quorum,
                                    target=args.target or args.quorum, deadline_blocks=args.deadline_blocks,
                                    max_samples=args.max_samples, seed=args.seed)
    store = open_store(args.ipfs, home)
    if web:
        node = OrganizationNode(_link(args, account_of(args, 0)), store, settings, test, home / "organization",
                                args.poll, _say)
        return _serve(organization_app, node, args, "organization")
    contract = _organization_contract(args)
    organization = Organization(contract, store, settings, test, _say)
    journal = RoundJournal(journal_path(home / "organization", contract))  # rejection reasons for the web pages
    _say(f"organization {contract.account.address} on {contract.chain.name}, contract {contract.address}")
    organization.run(args.rounds, poll_seconds=args.poll, on_outcome=journal.record_outcome)
    return 0


def _client_data(args: argparse.Namespace) -> tuple[Dataset, str]:
    """This client's share of the training data, and a sentence saying which share it is."""
    train, _ = load_data(args.data, args.test_data)
    index = args.partition_index if args.partition_index is not None else max(0, (args.account or 1) - 1)
    parts = partition(train.y, args.num_partitions, args.partition, seed=args.seed, alpha=args.alpha)
    if not 0 <= index < len(parts):
        raise UserError(f"--partition-index {index} is outside 0..{len(parts) - 1}")
    return train.subset(parts[index]), f"partition {index} of {args.num_partitions} ({args.partition})"


def run_client(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.torch_threads)
    web = _web(args)
    home = home_of(args)
    account = account_of(args, 1)
    data, description = _client_data(args)
    state = ClientState(home / "clients" / account.address)
    settings = ClientSettings(ewc_lambda=args.ewc_lambda, seed=args.seed)
    store = open_store(args.ipfs, home)
    if web:
        node = ClientNode(_link(args, account), store, data, state, settings, description, args.poll, _say)
        return _serve(client_app, node, args, "client")
    chain = connect_chain(args)
    contract = attach(chain, deployment_book(chain, home), account)
    client = Client(contract, store, data, state, settings)
    _say(f"client {account.address} on {chain.name}: {description}, {len(data)} examples")
    client.run(poll_seconds=args.poll, max_rounds=args.rounds)
    return 0

