"""Options and helpers every command shares: the home directory, the chain, the account."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from eth_account.signers.local import LocalAccount

from chain.accounts import choose_account
from chain.backends import Chain, connect
from chain.contract import FederatedLearningContract
from chain.deployments import DeploymentBook
from chain.migrate import attach

HOME_ENVIRONMENT_VARIABLE = "FEDCHAIN_HOME"


class UserError(Exception):
    """A problem the user can fix; printed as one line, without a traceback."""


def default_home() -> Path:
    return Path(os.environ.get(HOME_ENVIRONMENT_VARIABLE, Path.home() / ".fedchain"))


def add_home_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", type=Path, default=None,
                        help=f"directory for all local state (default: ${HOME_ENVIRONMENT_VARIABLE} or ~/.fedchain)")


def add_chain_option(parser: argparse.ArgumentParser, default: str = "ganache") -> None:
    parser.add_argument("--chain", default=default,
                        help="embedded | ganache | anvil (local nodes, started on demand) | http(s) JSON-RPC URL "
                             f"(default: {default})")


def add_ipfs_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ipfs", default="embedded",
                        help="embedded (a content store in --home) | MULTIADDR of a Kubo-compatible daemon's API, "
                             "e.g. /ip4/127.0.0.1/tcp/5001 (default: embedded)")


def add_account_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--account", type=int, default=None, help="index of a dev-chain account (Ganache's)")
    group.add_argument("--key", default=None, help="hex private key (or set $FEDCHAIN_PRIVATE_KEY)")


def home_of(args: argparse.Namespace) -> Path:
    home = (args.home or default_home()).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def account_of(args: argparse.Namespace, default_index: int) -> LocalAccount:
    return choose_account(getattr(args, "account", None), getattr(args, "key", None), default_index=default_index)


def deployment_book(chain: Chain, home: Path) -> DeploymentBook:
    """On disk for chains that persist; in memory for the in-process EVM."""
    return DeploymentBook(home / "deployments.json" if chain.persistent else None)


def connect_chain(args: argparse.Namespace) -> Chain:
    return connect(args.chain, home_of(args))


def attached_contract(args: argparse.Namespace, default_account_index: int) -> FederatedLearningContract:
    """The recorded deployment on the chosen chain; the embedded EVM has none outside one process."""
    chain = connect_chain(args)
    if not chain.persistent:
        raise UserError("the embedded chain exists only inside one process (run.py demo): "
                        "use --chain ganache or a JSON-RPC URL")
    return attach(chain, deployment_book(chain, home_of(args)), account_of(args, default_account_index))
