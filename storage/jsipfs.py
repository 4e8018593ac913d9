"""Run a js-ipfs daemon (the Kubo-compatible HTTP RPC API) for tests, benchmarks and users.

Kubo cannot be installed on our machines; js-ipfs from npm can and gives identical CIDs. This
module owns one repository directory: it initialises it, starts `jsipfs daemon` and stops exactly
the process it started. By default the node is private: loopback only, with no peers. Given swarm
addresses and peers, it serves other machines; it still never bootstraps from, announces to or
discovers the public network (no public bootstrap list, delegates, mDNS or UPnP).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

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


def _tcp_port(multiaddr: str) -> int:
    """The port of `/ip4|ip6/HOST/tcp/PORT`."""
    parts = multiaddr.strip("/").split("/")
    if len(parts) != 4 or parts[0] not in ("ip4", "ip6") or parts[2] != "tcp" or not parts[3].isdigit():
        raise JsIpfsError(f"{multiaddr!r} is not a TCP address like /ip4/127.0.0.1/tcp/5001")
    return int(parts[3])


def _http_url(multiaddr: str) -> str:
    """`/ip4/H/tcp/P` as `http://H:P` (ip6 hosts in brackets)."""
    protocol, host, _, port = multiaddr.strip("/").split("/")[:4]
    return f"http://[{host}]:{port}" if protocol == "ip6" else f"http://{host}:{port}"


def _reachable_locally(multiaddr: str) -> str:
    """A daemon listening on every interface (0.0.0.0 or ::) is reached here through loopback."""
    return multiaddr.replace("/ip4/0.0.0.0/", "/ip4/127.0.0.1/").replace("/ip6/::/", "/ip6/::1/")


class JsIpfsDaemon:
    """One js-ipfs daemon with its repository in `repo`, on free loopback ports unless told otherwise.

    Use as a context manager, or call start() and stop(). The repository is kept between runs
    so content survives a restart.
    """

    def __init__(self, repo: Path, *, startup_timeout: float = 60.0, api: str | None = None,
                 gateway: str | None = None, swarm: Sequence[str] = ()) -> None:
        """`api`, `gateway`: TCP multiaddrs of the HTTP RPC API (what users pass as --ipfs) and of the
        read-only HTTP gateway; `swarm`: where it listens for other IPFS nodes. Defaults: free
        loopback ports. Connecting to peers is `storage.swarm`'s (js-ipfs does not dial its bootstrap list)."""
        self.repo = Path(repo)
        self.startup_timeout = startup_timeout
        self.api = api or _loopback(_free_port())
        self.gateway = gateway or _loopback(_free_port())
        self.swarm = list(swarm) or [_loopback(_free_port())]
        for address in (self.api, self.gateway):
            _tcp_port(address)
        self._rpc_port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def api_port(self) -> int:
        return _tcp_port(self.api)

    @property
    def api_multiaddr(self) -> str:
        """The HTTP RPC API address, ready for `open_store` or `ipfshttpclient.Client`."""
        return _reachable_locally(self.api) + "/http"

    @property
    def api_url(self) -> str:
        return _http_url(_reachable_locally(self.api))

    @property
    def gateway_url(self) -> str:
        """The read-only HTTP gateway (`GET /ipfs/CID`) as a URL reachable from this machine."""
        return _http_url(_reachable_locally(self.gateway))

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

    def _settings(self, config: dict[str, Any]) -> dict[str, Any]:
        """Our addresses only: no bootstrap list, delegates, discovery or UPnP port mapping."""
        addresses = config.setdefault("Addresses", {})
        addresses.update(
            Swarm=self.swarm,
            API=self.api,
            Gateway=self.gateway,
            RPC=_loopback(self._rpc_port),
            Delegates=[],
            Announce=[],
        )
        config["Bootstrap"] = []
        config.setdefault("Swarm", {})["DisableNatPortMap"] = True
        discovery = config.setdefault("Discovery", {})
        discovery["MDNS"] = {"Enabled": False, "Interval": 10}
        discovery["webRTCStar"] = {"Enabled": False}
        return config

    def _prepare_repo(self) -> list[str]:
        """The daemon's extra arguments: an existing repository gets our settings written into its
        config; a new one is initialised by the daemon itself with them (`--init-config`), which
        spares a second Node.js start-up (`jsipfs init`: about 6 s of CPU)."""
        config_path = self.repo / "config"
        if config_path.exists():
            write_text_atomically(config_path, json.dumps(self._settings(json.loads(config_path.read_text())),
                                                          indent=2))
            return []
        self.repo.mkdir(parents=True, exist_ok=True)
        write_text_atomically(self._init_config_path, json.dumps(self._settings({}), indent=2))
        return ["--init-config", str(self._init_config_path)]

    @property
    def _init_config_path(self) -> Path:
        return self.repo / "init-config.json"

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
        arguments = self._prepare_repo()
        self._remove_stale_locks()
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [str(JSIPFS), "daemon", *arguments],
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
        finally:
            self._init_config_path.unlink(missing_ok=True)

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

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until the daemon exits on its own (its exit code), or `timeout` seconds (None)."""
        if self._process is None:
            raise JsIpfsError("the daemon is not running")
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def __enter__(self) -> JsIpfsDaemon:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
