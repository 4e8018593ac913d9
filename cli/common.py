"""Options and helpers every command shares: the home directory, the chain, the account."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from eth_account.signers.local import LocalAccount

from chain.accounts import DEV_CHAIN_IDS, KEY_ENVIRONMENT_VARIABLE, AccountChoice, choose_account, require_dev_chain
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
    """Which key signs: a key file, $FEDCHAIN_PRIVATE_KEY, or an account of the public dev mnemonic.

    There is no option taking the key itself: command lines are visible to every user of the machine."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--account", type=int, default=None, metavar="I",
                       help="index of an account of the public dev mnemonic (Ganache's); dev chains only")
    group.add_argument("--key-file", type=Path, default=None, metavar="PATH",
                       help=f"file holding the hex private key, mode 600 (or set ${KEY_ENVIRONMENT_VARIABLE})")
    group.add_argument("--key", action=_KeyOnCommandLine, help=argparse.SUPPRESS)
    add_dev_keys_option(parser)


class _KeyOnCommandLine(argparse.Action):
    """The former --key option: refused with directions (and spelled out, so that argparse does
    not take it for an abbreviation of --key-file and read the key as a path)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        parser.error(f"--key is not accepted: a command line is visible to every user of the machine; "
                     f"put the key in a file (mode 600) and pass --key-file PATH, or set ${KEY_ENVIRONMENT_VARIABLE}")


def add_dev_keys_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--allow-dev-keys", action="store_true",
                        help="let the public dev mnemonic's accounts sign on a chain whose id is not "
                             f"{' or '.join(map(str, sorted(DEV_CHAIN_IDS)))} (anyone can use those keys)")


def home_of(args: argparse.Namespace) -> Path:
    home = (args.home or default_home()).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def _account_choice(args: argparse.Namespace, default_index: int) -> AccountChoice:
    return choose_account(getattr(args, "account", None), getattr(args, "key_file", None),
                          default_index=default_index)


def account_of(args: argparse.Namespace, default_index: int) -> LocalAccount:
    return _account_choice(args, default_index).account


def _signs_with_dev_keys(args: argparse.Namespace) -> bool:
    """Whether the command signs with the dev mnemonic's keys: commands that sign have
    --allow-dev-keys; those without key options (the demo) sign with dev and derived keys only."""
    if not hasattr(args, "allow_dev_keys"):
        return False  # a read-only command
    if not hasattr(args, "key_file"):
        return True
    return _account_choice(args, 0).from_dev_mnemonic


def deployment_book(chain: Chain, home: Path) -> DeploymentBook:
    """On disk for chains that persist; in memory for the in-process EVM."""
    return DeploymentBook(home / "deployments.json" if chain.persistent else None)


def connect_chain(args: argparse.Namespace) -> Chain:
    """The chain of --chain; refused when the command would sign on it with public dev keys."""
    chain = connect(args.chain, home_of(args))
    if _signs_with_dev_keys(args) and not args.allow_dev_keys:
        require_dev_chain(chain)
    return chain


def attached_contract(args: argparse.Namespace, default_account_index: int) -> FederatedLearningContract:
    """The recorded deployment on the chosen chain; the embedded EVM has none outside one process."""
    chain = connect_chain(args)
    if not chain.persistent:
        raise UserError("the embedded chain exists only inside one process (run.py demo): "
                        "use --chain ganache or a JSON-RPC URL")
    return attach(chain, deployment_book(chain, home_of(args)), account_of(args, default_account_index))
