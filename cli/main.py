"""Parse the command line, dispatch, and turn expected failures into one clear line."""

from __future__ import annotations

import argparse
import os
import sys
import threading

from chain.accounts import InvalidKeyError
from chain.backends import ChainUnavailableError, InvalidChainSpecError
from chain.compiler import CompilationError, CompilerNotFoundError
from chain.contract import ContractNotFoundError
from chain.deployments import DeploymentNotFoundError
from chain.errors import ContractRevert
from cli import bench_command, chain_commands, demo, ipfs_commands, services, verify_command
from cli.common import UserError
from cli.stopping import FORCED_EXIT_CODE, Stopping, stop_on_signals
from mlprocessor.data import DataError
from storage.cid import InvalidCidError
from storage.model_file import ModelFileError
from storage.store import StorageError

EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    UserError,
    ChainUnavailableError,
    InvalidChainSpecError,
    InvalidKeyError,
    ContractNotFoundError,
    DeploymentNotFoundError,
    ContractRevert,
    InvalidCidError,
    CompilerNotFoundError,
    CompilationError,
    FileNotFoundError,
    StorageError,
    ModelFileError,
    DataError,
)


class DefaultsShown(argparse.HelpFormatter):
    """Every option's help ends with its default, unless it has none worth showing or says it itself."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        shown = action.default not in (None, False, argparse.SUPPRESS) and action.option_strings
        if shown and "default" not in help_text:
            help_text += (" " if help_text else "") + "(default: %(default)s)"
        return help_text


def _show_defaults(parser: argparse.ArgumentParser) -> None:
    """Apply DefaultsShown to every (sub)command, including options declared without a help text."""
    parser.formatter_class = DefaultsShown
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                _show_defaults(subparser)
        elif action.help is None and action.option_strings and action.default not in (None, False):
            action.help = "(default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run.py",
        description="Federated learning coordinated by an Ethereum contract, with models on IPFS.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (chain_commands, demo, services, verify_command, ipfs_commands, bench_command):
        module.register(commands)
    _show_defaults(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with stop_on_signals(f"run.py {args.command}"):
            return args.handler(args)
    except EXPECTED_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as interrupt:
        if not isinstance(interrupt, Stopping):
            print("interrupted", file=sys.stderr)
        _exit_now_if_threads_linger()
        return FORCED_EXIT_CODE


def _exit_now_if_threads_linger() -> None:
    """Worker threads (clients training) would keep an interrupted process alive until they finish:
    the chain and IPFS hold everything that matters, so end it now."""
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.current_thread()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(FORCED_EXIT_CODE)
