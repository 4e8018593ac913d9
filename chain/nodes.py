"""Local dev nodes as processes: Ganache and Anvil, their command lines, started, awaited and stopped.

Both fund Ganache's deterministic accounts with chain id 1337, keep their state in the home when
asked, and are stopped by their own PID, never by name. The transports that talk to them are in
chain/backends.py.
"""

from __future__ import annotations

import platform
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from chain.accounts import DEV_ACCOUNT_COUNT, DEV_HD_PATH, DEV_MNEMONIC
from chain.paths import NODE_BIN, NODE_MODULES

GANACHE_DEFAULT_PORT = 8545
ANVIL_DEFAULT_PORT = 8546  # beside Ganache's, so both local nodes can run at once
GANACHE_CHAIN_ID = 1337
ANVIL_STATE_INTERVAL_SECONDS = 5  # Anvil also writes its state on SIGTERM; this bounds a crash's loss
LOOPBACK = "127.0.0.1"  # a node reachable from this machine only: the default
ANY_ADDRESS = ("0.0.0.0", "::")  # every interface, loopback included


class ChainUnavailableError(ConnectionError):
    """The chain named by the user does not answer; the message names it."""


def ganache_url(port: int = GANACHE_DEFAULT_PORT, host: str = LOOPBACK) -> str:
    return f"http://{host}:{port}"


def ganache_command(port: int, database: Path, block_time: float = 0, host: str = LOOPBACK) -> list[str]:
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
        "--host", host,
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
        "--host", LOOPBACK,
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
                  host: str = LOOPBACK, detach: bool = False, timeout: float = 60) -> GanacheProcess:
    """Start Ganache on host:port (loopback unless other machines must reach it) with its chain kept
    in `database`, and wait until it answers on this machine's loopback."""
    database.mkdir(parents=True, exist_ok=True)
    probe = ganache_url(port, LOOPBACK if host in ANY_ADDRESS else host)
    return _start_node("Ganache", ganache_command(port, database, block_time, host), probe, log_file, detach,
                       timeout)


def start_anvil(port: int, state_file: Path | None, log_file: Path | None = None, *, detach: bool = False,
                timeout: float = 30) -> GanacheProcess:
    """Start Anvil on 127.0.0.1:port with its chain kept in `state_file`, and wait until it answers."""
    if state_file is not None:
        state_file.parent.mkdir(parents=True, exist_ok=True)
    return _start_node("Anvil", anvil_command(port, state_file), ganache_url(port), log_file, detach, timeout)


def ensure_local_node(kind: str, home: Path, port: int) -> str:
    """The URL of the local `ganache` or `anvil`, starting one in the background (its state, log and
    PID file in home/kind) when none answers."""
    url = ganache_url(port)
    if not ganache_answers(url):
        folder = home / kind
        if kind == "ganache":
            started = start_ganache(port, folder / "db", folder / "ganache.log", detach=True)
        else:
            started = start_anvil(port, folder / "state.json", folder / "anvil.log", detach=True)
        _announce(kind.capitalize(), started, folder / f"{kind}.pid")
    return url


def _announce(name: str, started: GanacheProcess, pid_file: Path) -> None:
    """A node left running for later commands: say where it is and how to stop exactly it."""
    pid_file.write_text(f"{started.pid}\n")
    print(f"started {name} at {started.url} (PID {started.pid}; stop it with `kill {started.pid}`)", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


