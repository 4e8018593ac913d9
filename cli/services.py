"""`run.py organization` and `run.py client`: the two services as separate processes."""

from __future__ import annotations

import argparse

import torch

from chain.contract import FederatedLearningContract
from chain.deployments import DeploymentNotFoundError
from chain.migrate import attach, deploy
from cli.common import (
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
from mlprocessor.data import load_data
from mlprocessor.partition import partition
from organization.service import Organization, OrganizationSettings
from storage.store import open_store


def register(commands: argparse._SubParsersAction) -> None:
    organization = commands.add_parser("organization", help="the organization's service: runs rounds")
    client = commands.add_parser("client", help="a client's service: trains when a round opens")
    for parser in (organization, client):
        add_home_option(parser)
        add_chain_option(parser)
        add_ipfs_option(parser)
        add_account_options(parser)
        add_data_options(parser)
        parser.add_argument("--poll", type=float, default=1.0, help="seconds between looks at the chain")
        parser.add_argument("--torch-threads", type=int, default=1,
                            help="torch threads (default 1: several services share the cores)")
    add_plan_options(organization)
    organization.add_argument("--rounds", type=int, default=5, help="rounds to close before exiting")
    organization.add_argument("--quorum", type=int, default=2, help="fewest updates a round may be finalized with")
    organization.add_argument("--target", type=int, default=None,
                              help="close a round as soon as this many updates arrived (default: the quorum)")
    organization.add_argument("--deadline-blocks", type=int, default=60, help="blocks a round stays open")
    organization.set_defaults(handler=run_organization)

    add_client_training_options(client)
    client.add_argument("--num-partitions", type=int, default=5, help="the data is split this many ways")
    client.add_argument("--partition-index", type=int, default=None,
                        help="which part is this client's (default: account index - 1)")
    client.add_argument("--rounds", type=int, default=None, help="answer this many rounds, then exit")
    client.set_defaults(handler=run_client)


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
    contract = _organization_contract(args)
    plan, strategy = plan_and_strategy(args)
    _, test = load_data(args.data, args.test_data)
    settings = OrganizationSettings(model=args.model, strategy=strategy, plan=plan, quorum=args.quorum,
                                    target=args.target or args.quorum, deadline_blocks=args.deadline_blocks,
                                    seed=args.seed)
    organization = Organization(contract, open_store(args.ipfs, home_of(args)), settings, test)
    print(f"organization {contract.account.address} on {contract.chain.name}, contract {contract.address}",
          flush=True)
    organization.run(args.rounds, poll_seconds=args.poll)
    return 0


def run_client(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.torch_threads)
    chain = connect_chain(args)
    home = home_of(args)
    account = account_of(args, 1)
    contract = attach(chain, deployment_book(chain, home), account)
    train, _ = load_data(args.data, args.test_data)
    index = args.partition_index if args.partition_index is not None else max(0, (args.account or 1) - 1)
    parts = partition(train.y, args.num_partitions, args.partition, seed=args.seed, alpha=args.alpha)
    if not 0 <= index < len(parts):
        raise ValueError(f"--partition-index {index} is outside 0..{len(parts) - 1}")
    client = Client(contract, open_store(args.ipfs, home), train.subset(parts[index]),
                    ClientState(home / "clients" / account.address),
                    ClientSettings(ewc_lambda=args.ewc_lambda, seed=args.seed))
    print(f"client {account.address} on {chain.name}: partition {index} of {args.num_partitions} "
          f"({len(parts[index])} examples)", flush=True)
    client.run(poll_seconds=args.poll, max_rounds=args.rounds)
    return 0
