"""Parse the command line, dispatch, and turn expected failures into one clear line.

Start-up is lazy: only the module of the command being run is imported (`run.py --help` imports
none of them, so it answers in a fraction of a second), and no command that does not train
(`history`, `ipfs`, ...) pays for importing torch.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import threading

from cli.stopping import FORCED_EXIT_CODE, Stopping, stop_on_signals

# command -> (module that registers and runs it, one-line summary for `run.py --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "chain": ("cli.chain_commands", "run a local Ganache in the foreground (Ctrl-C stops it)"),
    "compile": ("cli.chain_commands", "compile contracts/ into contracts/build/"),
    "deploy": ("cli.chain_commands", "run the migrations on a chain and print the contract address"),
    "history": ("cli.chain_commands", "the round history, read from the chain alone"),
    "account": ("cli.account_command", "create a key file, show its address, or its balance on a chain"),
    "clients": ("cli.clients_command", "list the clients, allow or remove them, switch who may register"),
    "demo": ("cli.demo", "run the whole system in one process and print a summary"),
    "organization": ("cli.services", "the organization's service: runs rounds"),
    "client": ("cli.services", "a client's service: trains when a round opens"),
    "verify": ("cli.verify_command", "recompute finalized rounds and compare their result CIDs"),
    "ipfs": ("cli.ipfs_commands", "the content store by hand (add, cat) and a local IPFS daemon (daemon)"),
    "bench": ("cli.bench_command", "run the benchmark suite and write docs/BENCHMARKS.md"),
    "task": ("cli.task_commands", "the tasks installed here: list, check one, scaffold a new one (docs/TASKS.md)"),
    "evaluate": ("cli.evaluate_command", "a published model's accuracy and loss on your own test data"),
}

# Failures printed as one line. An error class whose module was never imported cannot have been
# raised, so they are looked up in sys.modules after the fact instead of imported up front.
EXPECTED_ERRORS = (
    ("protocol.errors", "UserError"),
    ("chain.nodes", "ChainUnavailableError"),
    ("chain.backends", "InvalidChainSpecError"),
    ("chain.accounts", "InvalidKeyError"),
    ("chain.accounts", "DevKeysRefusedError"),
    ("chain.contract", "ContractNotFoundError"),
    ("chain.deployments", "DeploymentNotFoundError"),
    ("chain.errors", "ContractRevert"),
    ("chain.errors", "AccountProblem"),
    ("chain.logs", "LogQueryError"),
    ("storage.cid", "InvalidCidError"),
    ("chain.compiler", "CompilerNotFoundError"),
    ("chain.compiler", "CompilationError"),
    ("builtins", "FileNotFoundError"),
    ("storage.store", "StorageError"),
    ("storage.model_file", "ModelFileError"),
    ("mlprocessor.data", "DataError"),
    ("client.state", "ClientStateError"),
    ("protocol.outages", "RoundSettingsError"),
    ("mlprocessor.task_registry", "TaskMismatchError"),
)


class DefaultsShown(argparse.HelpFormatter):
    """Every option's help ends with its default, unless it has none worth showing or says it itself."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        shown = action.default not in (None, False, argparse.SUPPRESS) and action.option_strings
        if shown and "default" not in help_text:
            help_text += (" " if help_text else "") + "(default: %(default)s)"
        return help_text


def _finish(parser: argparse.ArgumentParser) -> None:
    """For every (sub)command: no abbreviated options (`--task` must never be read as another
    option's prefix), and DefaultsShown, including options declared without a help text."""
    parser.allow_abbrev = False
    parser.formatter_class = DefaultsShown
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                _finish(subparser)
        elif action.help is None and action.option_strings and action.default not in (None, False):
            action.help = "(default: %(default)s)"


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser with the full options of the command named in `argv` (all commands listed)."""
    parser = argparse.ArgumentParser(
        prog="run.py",
        description="Federated learning coordinated by an Ethereum contract, with models on IPFS.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((word for word in (sys.argv[1:] if argv is None else argv) if not word.startswith("-")), None)
    if chosen in COMMANDS:
        importlib.import_module(COMMANDS[chosen][0]).register(commands)
    for name, (_, summary) in COMMANDS.items():
        if name not in commands.choices:
            commands.add_parser(name, help=summary)
    _finish(parser)
    return parser


def expected_errors() -> tuple[type[BaseException], ...]:
    return tuple(getattr(sys.modules[module], name) for module, name in EXPECTED_ERRORS if module in sys.modules)


def main(argv: list[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    try:
        with stop_on_signals(f"run.py {args.command}"):
            return args.handler(args)
    except KeyboardInterrupt as interrupt:
        if not isinstance(interrupt, Stopping):
            print("interrupted", file=sys.stderr)
        _exit_now_if_threads_linger()
        return FORCED_EXIT_CODE
    except BrokenPipeError:  # the reader of the output went away (`run.py demo | head`): stop, as `cat` would
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit's own flush cannot fail again
        return 1
    except Exception as error:
        if not isinstance(error, expected_errors()):
            raise
        print(f"error: {error}", file=sys.stderr)
        return 1


def _exit_now_if_threads_linger() -> None:
    """Worker threads (clients training) would keep an interrupted process alive until they finish:
    the chain and IPFS hold everything that matters, so end it now."""
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.current_thread()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(FORCED_EXIT_CODE)
