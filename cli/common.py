"""Options and helpers every command shares: the home directory, the chain, the contract, IPFS, the account."""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from eth_account.signers.local import LocalAccount

from chain.accounts import DEV_CHAIN_IDS, KEY_ENVIRONMENT_VARIABLE, AccountChoice, choose_account
from chain.backends import LOCAL_NODES, Chain, connect, local_node_port, require_dev_chain
from chain.contract import ContractNotFoundError, FederatedLearningContract
from chain.deployments import DeploymentBook, DeploymentNotFoundError
from chain.migrate import attach
from chain.nodes import ChainUnavailableError
from chain.sending_policy import SendingPolicy, gwei_to_wei
from cli.ipfs_address import IpfsAddressError, daemon_multiaddr, daemon_problem, gateway_problem, gateway_url
from protocol.errors import UserError
from storage.factory import GATEWAY_PREFIX, open_store
from storage.store import ContentStore

HOME_ENVIRONMENT_VARIABLE = "FEDCHAIN_HOME"
WAIT_POLL_SECONDS = 1.0

Say = Callable[[str], None]


def default_home() -> Path:
    return Path(os.environ.get(HOME_ENVIRONMENT_VARIABLE, Path.home() / ".fedchain"))


def say_on_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def add_home_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", type=Path, default=None,
                        help=f"directory for all local state (default: ${HOME_ENVIRONMENT_VARIABLE} or ~/.fedchain)")


def add_chain_option(parser: argparse.ArgumentParser, default: str = "ganache") -> None:
    auto = " | auto (a private Anvil for this run when installed, else embedded)" if default == "auto" else ""
    parser.add_argument("--chain", default=default,
                        help="embedded | ganache | anvil (local nodes, started on demand) | http(s) JSON-RPC URL"
                             + auto)


def add_start_chain_option(parser: argparse.ArgumentParser) -> None:
    """For commands that only read: a local node is started only when the user asks for it."""
    parser.add_argument("--start-chain", action="store_true",
                        help="start the local node of --chain ganache|anvil when none answers (without it, "
                             "this command never starts a chain: it reads one that runs)")


def add_contract_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--contract", default=None, metavar="ADDRESS",
                        help="the FederatedLearning contract to attach to, from any home "
                             "(default: the deployment recorded in --home for this chain)")


def add_ipfs_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ipfs", default="embedded",
                        help="embedded (a content store in --home) | a Kubo-compatible daemon's API as "
                             "http://HOST:PORT or MULTIADDR, e.g. http://127.0.0.1:5001 or /ip4/127.0.0.1/tcp/5001 | "
                             "gateway+http://HOST:PORT: read (only) through an IPFS HTTP gateway")


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
    add_fee_option(parser)


def add_fee_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-fee-gwei", type=_fee_cap, default=None, metavar="X",
                        help="never offer more than X gwei per gas (EIP-1559 max fee, or gas price); a transaction "
                             "not mined within a minute is replaced at the same nonce with a 12.5%% higher fee "
                             "up to this cap (default: no cap)")


def _fee_cap(text: str) -> float:
    try:
        value = float(text)
        gwei_to_wei(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error) if "gwei" in str(error) else f"not a number: {text!r}") from None
    return value


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


# ---------------------------------------------------------------- the chain


@contextmanager
def local_node_lock(port: int) -> Iterator[None]:
    """Held while a local node is looked for and started on `port`, by `run.py chain` or on demand:
    processes started at once, whatever their homes (the port is the machine's), start one node
    between them, and a command started beside `run.py chain` waits for its node instead of
    starting another that takes the port first."""
    path = Path(tempfile.gettempdir()) / f"fedchain-node-{port}.lock"
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError as error:  # e.g. another user's file, unreadable
        raise UserError(f"cannot open the lock for starting a node on port {port}, {path}: {error.strerror} "
                        "(remove it, or set TMPDIR to a directory of your own)") from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def connect_chain(args: argparse.Namespace, *, wait: bool = False, say: Say = say_on_stderr) -> Chain:
    """The chain of `--chain`, refused when the command would sign on it with public dev keys;
    with `wait`, a node that does not answer yet is waited for (said once)."""
    chain = _reach_chain(args, wait, say)
    if _signs_with_dev_keys(args) and not getattr(args, "allow_dev_keys", False):
        require_dev_chain(chain)
    apply_sending_policy(args, chain, say)
    return chain


def apply_sending_policy(args: argparse.Namespace, chain: Chain, say: Say) -> None:
    """The fee cap of `--max-fee-gwei`, and sender locks in the home (one sender per key at a time)."""
    lock_home = home_of(args) if chain.persistent else None
    SendingPolicy(max_fee_wei=gwei_to_wei(getattr(args, "max_fee_gwei", None)), lock_home=lock_home,
                  say=say).apply_to(chain.web3)


def _reach_chain(args: argparse.Namespace, wait: bool, say: Say) -> Chain:
    home = home_of(args)
    start = getattr(args, "start_chain", True)  # commands without the option start local nodes on demand
    if start and args.chain in LOCAL_NODES:  # started (and announced) by connect: one per port at a time
        with local_node_lock(local_node_port(args.chain)):
            return connect(args.chain, home)
    waiting = False
    while True:
        try:
            return connect(args.chain, home, start=start)
        except ChainUnavailableError as error:
            if not wait:
                raise
            if not waiting:
                say(f"waiting for the chain: {error}")
                waiting = True
        time.sleep(WAIT_POLL_SECONDS)


# ---------------------------------------------------------------- the contract


def contract_at(chain: Chain, address: str, account: LocalAccount) -> FederatedLearningContract:
    """The contract at a given address, with the ABI of the committed artifact."""
    try:
        return FederatedLearningContract(chain, address, account)
    except ContractNotFoundError as error:
        raise UserError(f"{error}: check --contract and --chain") from None


def _not_recorded(chain: Chain, home: Path) -> str:
    return (f"no FederatedLearning deployment is recorded for chain {chain.web3.eth.chain_id} in "
            f"{home / 'deployments.json'}: pass the contract's address with --contract ADDRESS "
            "(or use the home the organization deployed from)")


def find_contract(args: argparse.Namespace, chain: Chain, account: LocalAccount) -> FederatedLearningContract:
    """`--contract ADDRESS` when given, else the deployment recorded in the home for this chain."""
    if not chain.persistent:
        raise UserError("the embedded chain exists only inside one process (run.py demo): "
                        "use --chain ganache or a JSON-RPC URL")
    address = getattr(args, "contract", None)
    if address:
        return contract_at(chain, address, account)
    home = home_of(args)
    try:
        return attach(chain, deployment_book(chain, home), account)
    except DeploymentNotFoundError:
        raise UserError(_not_recorded(chain, home)) from None
    except ContractNotFoundError as error:
        raise UserError(f"the deployment recorded in {home / 'deployments.json'} is gone ({error}); "
                        "the chain was reset: deploy again or pass --contract") from None


def wait_for_contract(args: argparse.Namespace, chain: Chain, account: LocalAccount,
                      say: Say) -> FederatedLearningContract:
    """Like `find_contract`, but a deployment that is not there yet is waited for (said once)."""
    waiting = False
    while True:
        chain.web3.eth.block_number  # noqa: B018 - each poll proves the node still answers (its chain id is cached)
        try:
            return find_contract(args, chain, account)
        except UserError as error:
            if getattr(args, "contract", None):
                raise
            if not waiting:
                say(f"waiting for the organization to deploy the contract ({error})")
                waiting = True
        time.sleep(WAIT_POLL_SECONDS)


def attached_contract(args: argparse.Namespace, default_account_index: int) -> FederatedLearningContract:
    """The contract of `--contract` or the home, on the chosen chain; a chain that does not answer
    is one line naming the chain and the deployment looked for."""
    try:
        chain = connect_chain(args)
    except ChainUnavailableError as error:
        raise UserError(f"{error}; looked for {_wanted_contract(args)}: start that chain (`run.py chain`, or "
                        f"--start-chain), or name the right one with --chain URL") from None
    return find_contract(args, chain, account_of(args, default_account_index))


def _wanted_contract(args: argparse.Namespace) -> str:
    """Which deployment a command attaches to, in words: `--contract`, else what the home records."""
    if getattr(args, "contract", None):
        return f"contract {args.contract} (--contract)"
    book = home_of(args) / "deployments.json"
    try:
        recorded = json.loads(book.read_text())
    except (OSError, ValueError):
        return f"the deployment recorded in {book} (none is)"
    found = [f"{record['address']} on chain {chain_id}" for chain_id, entry in sorted(recorded.items())
             for record in entry.get("contracts", {}).values()]
    return f"the deployment recorded in {book} ({', '.join(found) or 'none'})"


# ---------------------------------------------------------------- IPFS


def open_ipfs(args: argparse.Namespace, *, wait: bool = False, say: Say = say_on_stderr,
              writes: bool = False) -> ContentStore:
    """The content store of `--ipfs`."""
    return open_ipfs_store(args.ipfs, home_of(args), wait=wait, say=say, writes=writes)


def open_ipfs_store(spec: str, home: Path, *, wait: bool = False, say: Say = say_on_stderr,
                    writes: bool = False) -> ContentStore:
    """The store for an `--ipfs` value; a daemon or gateway is probed first so a wrong address is one
    clear line, and with `wait` one that does not answer yet is waited for (said once). A command
    that `writes` refuses a gateway (read-only) at once rather than failing at its first add."""
    try:
        gateway = gateway_url(spec)
        multiaddr = None if gateway else daemon_multiaddr(spec)
    except IpfsAddressError as error:
        raise UserError(str(error)) from None
    if gateway and writes:
        raise UserError(f"--ipfs {spec} is a gateway, which can only read, and this command adds content: "
                        "use an IPFS daemon's API (http://HOST:PORT) or embedded")
    if gateway is None and multiaddr is None:
        return open_store("embedded", home)
    waiting = False
    while True:
        reachable, problem = gateway_problem(gateway) if gateway else daemon_problem(multiaddr)
        if problem is None:
            return open_store(GATEWAY_PREFIX + gateway if gateway else multiaddr, home)
        if reachable or not wait:
            raise UserError(problem)
        if not waiting:
            say(f"waiting for IPFS: {problem}")
            waiting = True
        time.sleep(WAIT_POLL_SECONDS)
