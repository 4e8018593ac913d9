"""Run a private js-ipfs daemon (the Kubo-compatible HTTP RPC API) for tests, benchmarks and users.

Kubo cannot be installed on our machines; js-ipfs from npm can and gives identical CIDs. This
module owns one repository directory: it initialises it, confines the node to loopback with no
peers, starts `jsipfs daemon` and stops exactly the process it started.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from storage.atomic import write_text_atomically

REPO_ROOT = Path(__file__).resolve().parent.parent
JSIPFS = REPO_ROOT / "node_modules" / ".bin" / "jsipfs"
POLYFILLS = REPO_ROOT / "scripts" / "node-polyfills.cjs"
_READY = "Daemon is ready"
_LOCK_NAMES = ("repo.lock", "api")


class JsIpfsError(RuntimeError):
    """The js-ipfs daemon could not be initialised or started."""


def jsipfs_available() -> bool:
    """True when `npm install` has provided js-ipfs and `node` is on PATH."""
    return JSIPFS.exists() and shutil.which("node") is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _loopback(port: int) -> str:
    return f"/ip4/127.0.0.1/tcp/{port}"


class JsIpfsDaemon:
    """One js-ipfs daemon on free loopback ports with its repository in `repo`.

    Use as a context manager, or call start() and stop(). The repository is kept between runs
    so content survives a restart.
    """

    def __init__(self, repo: Path, *, startup_timeout: float = 60.0, api_port: int | None = None) -> None:
        """`api_port` fixes the HTTP RPC API's port (what users pass as --ipfs); the default is a free one."""
        self.repo = Path(repo)
        self.startup_timeout = startup_timeout
        self.api_port = api_port or _free_port()
        self._ports = {"Swarm": _free_port(), "Gateway": _free_port(), "RPC": _free_port()}
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def api_multiaddr(self) -> str:
        """The HTTP RPC API address, ready for `open_store` or `ipfshttpclient.Client`."""
        return _loopback(self.api_port) + "/http"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def log_path(self) -> Path:
        return self.repo / "daemon.log"

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ, IPFS_PATH=str(self.repo))
        env["NODE_OPTIONS"] = f'{env.get("NODE_OPTIONS", "")} --require "{POLYFILLS}"'.strip()
        return env

    def _init_repo(self) -> None:
        if (self.repo / "config").exists():
            return
        self.repo.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [str(JSIPFS), "init", "--empty-repo"],
            env=self._environment(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise JsIpfsError(f"jsipfs init in {self.repo} failed: {result.stderr.strip() or result.stdout}")

    def _configure(self) -> None:
        """Keep the node private: loopback only, no bootstrap peers, delegates or discovery."""
        path = self.repo / "config"
        config = json.loads(path.read_text())
        addresses = config.setdefault("Addresses", {})
        addresses.update(
            Swarm=[_loopback(self._ports["Swarm"])],
            API=_loopback(self.api_port),
            Gateway=_loopback(self._ports["Gateway"]),
            RPC=_loopback(self._ports["RPC"]),
            Delegates=[],
            Announce=[],
        )
        config["Bootstrap"] = []
        discovery = config.setdefault("Discovery", {})
        discovery["MDNS"] = {"Enabled": False, "Interval": 10}
        discovery["webRTCStar"] = {"Enabled": False}
        write_text_atomically(path, json.dumps(config, indent=2))

    def _remove_stale_locks(self) -> None:
        """A daemon of ours that died leaves `repo.lock` and `api` behind; the next start needs them gone."""
        for name in _LOCK_NAMES:
            path = self.repo / name
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists():
                path.unlink()

    def start(self) -> None:
        """Initialise and configure the repository if needed, start the daemon, wait until it serves."""
        if not jsipfs_available():
            raise JsIpfsError(f"js-ipfs is not installed ({JSIPFS} missing): run `npm install`")
        if self._process is not None:
            raise JsIpfsError(f"the daemon for {self.repo} is already running (pid {self.pid})")
        self._init_repo()
        self._configure()
        self._remove_stale_locks()
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [str(JSIPFS), "daemon"],
                env=self._environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if _READY in self.log_path.read_text(errors="replace"):
                return
            if self._process.poll() is not None:
                raise JsIpfsError(f"jsipfs daemon exited with code {self._process.returncode}: {self._log_tail()}")
            time.sleep(0.1)
        raise JsIpfsError(f"jsipfs daemon not ready after {self.startup_timeout:.0f}s: {self._log_tail()}")

    def _log_tail(self, lines: int = 8) -> str:
        return " | ".join(self.log_path.read_text(errors="replace").strip().splitlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM our own daemon process (SIGKILL if it lingers) and release its repository lock."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._remove_stale_locks()

    def wait(self) -> int:
        """Block until the daemon exits on its own; its exit code."""
        if self._process is None:
            raise JsIpfsError("the daemon is not running")
        return self._process.wait()

    def __enter__(self) -> JsIpfsDaemon:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
