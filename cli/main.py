"""Parse the command line, dispatch, and turn expected failures into one clear line."""

from __future__ import annotations

import argparse
import sys

from chain.accounts import DevKeysRefusedError, InvalidKeyError
from chain.backends import ChainUnavailableError, InvalidChainSpecError
from chain.compiler import CompilationError, CompilerNotFoundError
from chain.contract import ContractNotFoundError
from chain.deployments import DeploymentNotFoundError
from chain.errors import ContractRevert
from cli import bench_command, chain_commands, clients_command, demo, ipfs_commands, services, verify_command
from cli.common import UserError
from mlprocessor.data import DataError
from storage.cid import InvalidCidError
from storage.model_file import ModelFileError
from storage.store import StorageError

EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    UserError,
    ChainUnavailableError,
    InvalidChainSpecError,
    InvalidKeyError,
    DevKeysRefusedError,
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run.py",
        description="Federated learning coordinated by an Ethereum contract, with models on IPFS.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (chain_commands, clients_command, demo, services, verify_command, ipfs_commands, bench_command):
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except EXPECTED_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
