"""One interface, four chains: the in-process EVM, a local Ganache or Anvil, and any JSON-RPC node.

`connect(spec, home)` turns the `--chain` option into a connected `Chain`. Ganache and Anvil are
started on demand with their state in the home, fund the same deterministic accounts, use chain
id 1337, and are stopped by their own PID.
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import socket
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from eth_account.signers.local import LocalAccount
from eth_utils import to_canonical_address
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider

from chain.accounts import DEV_ACCOUNT_COUNT, DEV_HD_PATH, DEV_MNEMONIC, dev_accounts
from chain.paths import NODE_BIN, NODE_MODULES

GANACHE_DEFAULT_PORT = 8545
ANVIL_DEFAULT_PORT = 8546  # beside Ganache's, so both local nodes can run at once
GANACHE_CHAIN_ID = 1337
ANVIL_STATE_INTERVAL_SECONDS = 5  # Anvil also writes its state on SIGTERM; this bounds a crash's loss
RPC_TIMEOUT_SECONDS = 10


class ChainUnavailableError(ConnectionError):
    """The chain named by the user does not answer; the message names it."""


class InvalidChainSpecError(ValueError):
    """The --chain value is none of the accepted forms."""


class Chain(ABC):
    """A connected chain: a Web3 instance, a human name, and the dev accounts it funds."""

    name: str

    @property
    @abstractmethod
    def web3(self) -> Web3: ...

    @property
    def persistent(self) -> bool:
        """Whether deployments outlive this process (false only for the in-process EVM)."""
        return True

    @property
    def endpoint(self) -> str | None:
        """The JSON-RPC URL other processes reach this chain at; None for the in-process EVM."""
        return None

    @property
    def funded_accounts(self) -> list[LocalAccount]:
        """Accounts with ether to spend; empty on a chain we do not control."""
        return []

    def mine_blocks(self, count: int = 1) -> None:
        """Advance the block number (dev chains only): deadlines are block numbers."""
        raise NotImplementedError(f"{self.name} does not mine blocks on request")

    def tick(self) -> None:
        """Called while waiting on a deadline. Dev chains mine a block only when a transaction
        arrives, so an idle one would never reach a deadline: they mine an empty block here.
        A real network has its own clock and does nothing."""
        return None


class _SerializedTesterProvider(EthereumTesterProvider):
    """py-evm is not thread-safe; clients training in threads share one chain through this lock."""

    def __init__(self, tester: Any, lock: threading.RLock) -> None:
        super().__init__(tester)
        self._lock = lock

    def make_request(self, method: Any, params: Any) -> Any:
        with self._lock:
            return super().make_request(method, params)


class EmbeddedChain(Chain):
    """The in-process EVM of eth-tester + py-evm: nothing to install, gone when the process ends."""

    def __init__(self, extra_accounts: Sequence[LocalAccount] = ()) -> None:
        """The dev accounts, plus `extra_accounts`, start with ether (1,000,000 each)."""
        from eth_tester import EthereumTester, PyEVMBackend
        from eth_tester.backends.pyevm.main import get_default_account_state

        self._accounts = dev_accounts() + list(extra_accounts)
        genesis_state = {
            to_canonical_address(account.address): get_default_account_state() for account in self._accounts
        }
        backend = PyEVMBackend(genesis_state=genesis_state, mnemonic=DEV_MNEMONIC, hd_path=DEV_HD_PATH)
        self._tester = EthereumTester(backend)
        self._lock = threading.RLock()
        self._web3 = Web3(_SerializedTesterProvider(self._tester, self._lock))
        self.name = "embedded EVM"

    @property
    def web3(self) -> Web3:
        return self._web3

    @property
    def persistent(self) -> bool:
        return False

    @property
    def funded_accounts(self) -> list[LocalAccount]:
        return list(self._accounts)

    def mine_blocks(self, count: int = 1) -> None:
        with self._lock:
            self._tester.mine_blocks(count)

    def tick(self) -> None:
        self.mine_blocks(1)


@dataclass
class RpcChain(Chain):
    """Any Ethereum JSON-RPC endpoint over HTTP; transactions are signed locally."""

    url: str
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = self.url
        provider = Web3.HTTPProvider(self.url, request_kwargs={"timeout": RPC_TIMEOUT_SECONDS})
        self._web3 = Web3(provider)
        try:
            self._web3.eth.chain_id  # noqa: B018 - the cheapest call that proves the node answers
        except (requests.ConnectionError, requests.Timeout, OSError) as error:
            raise ChainUnavailableError(f"no Ethereum node answers at {self.url} ({type(error).__name__})") from None

    @property
    def web3(self) -> Web3:
        return self._web3

    @property
    def endpoint(self) -> str | None:
        return self.url


class GanacheChain(RpcChain):
    """A local dev node (Ganache of `run.py chain`, or Anvil): deterministic accounts, evm_mine available."""

    @property
    def funded_accounts(self) -> list[LocalAccount]:
        return dev_accounts()

    def mine_blocks(self, count: int = 1) -> None:
        for _ in range(count):
            self.web3.provider.make_request("evm_mine", [])

    def tick(self) -> None:
        self.mine_blocks(1)


def ganache_url(port: int = GANACHE_DEFAULT_PORT) -> str:
    return f"http://127.0.0.1:{port}"


def ganache_command(port: int, database: Path, block_time: float = 0) -> list[str]:
    """The command line of a local Ganache whose accounts match `chain.accounts.dev_account`."""
    executable = NODE_BIN / "ganache"
    if not executable.exists():
        found = shutil.which("ganache")
        if not found:
            raise FileNotFoundError("Ganache is not installed: run ./setup.sh (it installs the npm package ganache)")
        executable = Path(found)
    command = [
        str(executable),
        "--port", str(port),
        "--host", "127.0.0.1",
        "--wallet.deterministic",
        "--wallet.totalAccounts", str(DEV_ACCOUNT_COUNT),
        "--chain.chainId", str(GANACHE_CHAIN_ID),
        "--database.dbPath", str(database),
        "--logging.quiet",
    ]
    if block_time > 0:
        command += ["--miner.blockTime", str(block_time)]
    return command


def anvil_executable() -> Path | None:
    """The binary the npm package @foundry-rs/anvil ships for this platform, else `anvil` on PATH."""
    system = {"Linux": "linux", "Darwin": "darwin", "Windows": "win32"}.get(platform.system(), "")
    arch = {"x86_64": "amd64", "AMD64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), "")
    bundled = NODE_MODULES / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / "anvil"
    if bundled.exists():
        return bundled
    found = shutil.which("anvil")
    return Path(found) if found else None


def anvil_command(port: int, state_file: Path | None) -> list[str]:
    """The command line of a local Anvil with Ganache's accounts (same mnemonic) and chain id;
    its chain is kept in `state_file` (none: gone when it stops)."""
    executable = anvil_executable()
    if executable is None:
        raise FileNotFoundError("Anvil is not installed: run ./setup.sh (it installs the npm package "
                                "@foundry-rs/anvil)")
    return [
        str(executable),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--chain-id", str(GANACHE_CHAIN_ID),
        "--mnemonic", DEV_MNEMONIC,
        "--derivation-path", DEV_HD_PATH + "/",
        "--accounts", str(DEV_ACCOUNT_COUNT),
        "--silent",
    ] + ([] if state_file is None else ["--state", str(state_file),
                                        "--state-interval", str(ANVIL_STATE_INTERVAL_SECONDS)])


def ganache_answers(url: str) -> bool:
    """Whether any JSON-RPC node (Ganache, Anvil, ...) answers at `url`."""
    try:
        request = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
        response = requests.post(url, json=request, timeout=1)
        return response.ok
    except requests.RequestException:
        return False


@dataclass
class GanacheProcess:
    """A local node (Ganache or Anvil) we started: stopped by its own PID, never by name."""

    process: subprocess.Popen
    url: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (Anvil writes its state then), SIGKILL if it does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _start_node(name: str, command: list[str], url: str, log_file: Path | None, detach: bool,
                timeout: float) -> GanacheProcess:
    """Run `command` and wait until a JSON-RPC node answers at `url`."""
    output = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(
        command,
        stdout=output,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=detach,
    )
    deadline = time.monotonic() + timeout
    while not ganache_answers(url):
        if process.poll() is not None:
            where = f"; see {log_file}" if log_file else ""
            raise ChainUnavailableError(f"{name} exited with code {process.returncode} while starting{where}")
        if time.monotonic() > deadline:
            GanacheProcess(process, url).stop()
            raise ChainUnavailableError(f"{name} did not answer at {url} within {timeout:.0f}s")
        time.sleep(0.05)
    return GanacheProcess(process, url)


def start_ganache(port: int, database: Path, log_file: Path | None = None, *, block_time: float = 0,
                  detach: bool = False, timeout: float = 60) -> GanacheProcess:
    """Start Ganache on 127.0.0.1:port with its chain kept in `database`, and wait until it answers."""
    database.mkdir(parents=True, exist_ok=True)
    return _start_node("Ganache", ganache_command(port, database, block_time), ganache_url(port), log_file,
                       detach, timeout)


def start_anvil(port: int, state_file: Path | None, log_file: Path | None = None, *, detach: bool = False,
                timeout: float = 30) -> GanacheProcess:
    """Start Anvil on 127.0.0.1:port with its chain kept in `state_file`, and wait until it answers."""
    if state_file is not None:
        state_file.parent.mkdir(parents=True, exist_ok=True)
    return _start_node("Anvil", anvil_command(port, state_file), ganache_url(port), log_file, detach, timeout)


def ensure_local_ganache(home: Path, port: int = GANACHE_DEFAULT_PORT) -> str:
    """The URL of the local Ganache, starting one in the background when none answers."""
    url = ganache_url(port)
    if not ganache_answers(url):
        started = start_ganache(port, home / "ganache" / "db", home / "ganache" / "ganache.log", detach=True)
        _announce("Ganache", started, home / "ganache" / "ganache.pid")
    return url


def ensure_local_anvil(home: Path, port: int = ANVIL_DEFAULT_PORT) -> str:
    """The URL of the local Anvil, starting one in the background when none answers."""
    url = ganache_url(port)
    if not ganache_answers(url):
        started = start_anvil(port, home / "anvil" / "state.json", home / "anvil" / "anvil.log", detach=True)
        _announce("Anvil", started, home / "anvil" / "anvil.pid")
    return url


def _announce(name: str, started: GanacheProcess, pid_file: Path) -> None:
    """A node left running for later commands: say where it is and how to stop exactly it."""
    pid_file.write_text(f"{started.pid}\n")
    print(f"started {name} at {started.url} (PID {started.pid}; stop it with `kill {started.pid}`)", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def run_chain(spec: str, home: Path) -> Iterator[Chain]:
    """The chain of one run (the demo's): `auto` is a private Anvil on a free port for this run
    only, reachable from worker processes and stopped by its PID at the end, or the in-process
    EVM when Anvil is not installed; any other spec is `connect`'s."""
    if spec != "auto":
        yield connect(spec, home)
    elif anvil_executable() is None:
        yield EmbeddedChain()
    else:
        node = start_anvil(free_port(), None)
        try:
            chain = GanacheChain(node.url)
            chain.name = f"private Anvil at {node.url} (PID {node.pid})"
            yield chain
        finally:
            node.stop()


def connect(spec: str, home: Path) -> Chain:
    """`embedded`, `ganache` or `anvil` (started on demand) or an http(s) JSON-RPC URL."""
    if spec == "embedded":
        return EmbeddedChain()
    if spec == "ganache":
        port = int(os.environ.get("FEDCHAIN_GANACHE_PORT", GANACHE_DEFAULT_PORT))
        return GanacheChain(ensure_local_ganache(home, port))
    if spec == "anvil":
        port = int(os.environ.get("FEDCHAIN_ANVIL_PORT", ANVIL_DEFAULT_PORT))
        return GanacheChain(ensure_local_anvil(home, port))
    if spec.startswith(("http://", "https://")):
        chain = RpcChain(spec)
        if chain.web3.eth.chain_id == GANACHE_CHAIN_ID and spec.startswith("http://127.0.0.1"):
            return GanacheChain(spec)
        return chain
    raise InvalidChainSpecError(
        f"--chain must be 'embedded', 'ganache', 'anvil' or an http(s) JSON-RPC URL, got {spec!r}")
