"""`run.py ipfs add|cat|daemon|peers|connect`: the content store by hand, with one-line errors, the
bundled daemon, and peering daemons on several machines.

Expected failures (missing file, malformed CID, unreachable daemon, content that does not match
its CID) print `error: ...` on stderr and return exit code 1; they never show a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import BinaryIO

from cli.common import add_home_option, add_ipfs_option, home_of, open_ipfs_store
from cli.ipfs_address import IpfsAddressError, api_url, daemon_multiaddr, daemon_problem
from protocol.errors import UserError
from storage import swarm
from storage.hashing import cid_of_file
from storage.jsipfs import JsIpfsDaemon, JsIpfsError
from storage.store import StorageError

DEFAULT_API_PORT = 5001  # Kubo's
DEFAULT_API = "http://127.0.0.1:5001"
PEER_CHECK_SECONDS = 5.0  # how often the daemon command checks its --peer nodes are still connected


def register(commands: argparse._SubParsersAction) -> None:
    ipfs = commands.add_parser("ipfs", help="the content store by hand (add, cat) and a local IPFS daemon")
    actions = ipfs.add_subparsers(dest="ipfs_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="store a file and print its CID (Kubo-identical)")
    add.add_argument("file", type=Path)
    add.add_argument("--only-hash", action="store_true", help="print the CID without storing anything")
    cat = actions.add_parser("cat", help="write the verified content of a CID to stdout")
    cat.add_argument("cid")
    for parser in (add, cat):
        add_home_option(parser)
        add_ipfs_option(parser)
    add.set_defaults(handler=lambda args: add_command(args.ipfs, home_of(args), args.file, args.only_hash))
    cat.set_defaults(handler=lambda args: cat_command(args.ipfs, home_of(args), args.cid, sys.stdout.buffer))
    daemon = actions.add_parser("daemon", help="run the bundled Kubo-compatible daemon (js-ipfs) in the foreground, "
                                               "its repository in the home (Ctrl-C stops it)")
    add_home_option(daemon)
    api = daemon.add_mutually_exclusive_group()
    api.add_argument("--port", type=int, default=DEFAULT_API_PORT, help="port of its HTTP RPC API on 127.0.0.1")
    api.add_argument("--api", metavar="MULTIADDR",
                     help="address of its HTTP RPC API, e.g. /ip4/0.0.0.0/tcp/5001 (whoever reaches the API can add "
                          "and pin: expose it on trusted networks only)")
    daemon.add_argument("--gateway", metavar="MULTIADDR",
                        help="address of its read-only HTTP gateway, e.g. /ip4/0.0.0.0/tcp/8080 "
                             "(default: a free port on 127.0.0.1)")
    daemon.add_argument("--listen", metavar="MULTIADDR", action="append", default=[],
                        help="swarm address other IPFS nodes connect to, e.g. /ip4/0.0.0.0/tcp/4001; repeatable "
                             "(default: a free port on 127.0.0.1: no other machine can connect)")
    daemon.add_argument("--peer", metavar="MULTIADDR", action="append", default=[],
                        help="another node to connect to and stay connected to, e.g. "
                             "/ip4/10.0.0.2/tcp/4001/p2p/12D3KooW... as it prints at start; repeatable")
    daemon.set_defaults(handler=run_daemon)
    peers = actions.add_parser("peers", help="a daemon's own swarm addresses (to give other nodes) and the nodes "
                                             "it is connected to")
    connect = actions.add_parser("connect", help="connect a daemon to another node")
    connect.add_argument("multiaddr", help="the other node's swarm address, ending in /p2p/ID")
    for parser in (peers, connect):
        parser.add_argument("--ipfs", default=DEFAULT_API, help="the daemon's API as http://HOST:PORT or MULTIADDR")
    peers.set_defaults(handler=lambda args: peers_command(args.ipfs))
    connect.set_defaults(handler=lambda args: connect_command(args.ipfs, args.multiaddr))


def _fail(message: object) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def add_command(store_spec: str, home: Path, path: Path, only_hash: bool) -> int:
    """Print the file's CID; store it too unless `only_hash` (which touches no store at all)."""
    path = Path(path)
    if not path.is_file():
        return _fail(f"{path} is not a readable file")
    try:
        cid = cid_of_file(path) if only_hash else open_ipfs_store(store_spec, home, writes=True).add_file(path)
    except (OSError, ValueError, StorageError, UserError) as error:
        return _fail(error)
    print(cid)
    return 0


def cat_command(store_spec: str, home: Path, cid: str, out: BinaryIO) -> int:
    """Write the content of `cid` to `out`, only after it has been verified against the CID."""
    try:
        data = open_ipfs_store(store_spec, home).get(cid)
    except (ValueError, StorageError, UserError) as error:
        return _fail(error)
    out.write(data)
    out.flush()
    return 0


def _api_url(spec: str) -> str:
    """The `http(s)://HOST:PORT` of a daemon's API given as a URL or multiaddr."""
    try:
        multiaddr = daemon_multiaddr(spec)
        if multiaddr is None:
            raise IpfsAddressError("the embedded store has no peers: give a daemon's API, e.g. " + DEFAULT_API)
        return api_url(multiaddr)
    except IpfsAddressError as error:
        raise UserError(str(error)) from None


def peers_command(spec: str) -> int:
    """Print the daemon's own swarm addresses, then the nodes it is connected to."""
    url = _api_url(spec)
    try:
        addresses, peers = swarm.local_addresses(url), swarm.connected_peers(url)
    except StorageError as error:
        return _fail(error)
    print("this node's addresses (give one to another node's --peer or `run.py ipfs connect`):")
    for address in addresses:
        print(f"  {address}")
    print(f"connected to {len(peers)} node(s)" + (":" if peers else ""))
    for peer in peers:
        print(f"  {peer}")
    return 0


def connect_command(spec: str, multiaddr: str) -> int:
    url = _api_url(spec)
    try:
        swarm.connect(url, multiaddr)
    except StorageError as error:
        return _fail(error)
    print(f"connected to {multiaddr}")
    return 0


def run_daemon(args: argparse.Namespace) -> int:
    """Like `run.py chain`: the daemon in the foreground until Ctrl-C or SIGTERM, stopped by its PID;
    meanwhile it connects to the --peer nodes and reconnects to any it loses."""
    try:
        for peer in args.peer:
            swarm.peer_id(peer)
        daemon = JsIpfsDaemon(home_of(args) / "ipfs-daemon", api=args.api or f"/ip4/127.0.0.1/tcp/{args.port}",
                              gateway=args.gateway, swarm=args.listen)
    except (JsIpfsError, StorageError) as error:
        raise UserError(str(error)) from None
    if daemon_problem(daemon.api_multiaddr)[0]:
        raise UserError(f"something already answers at {daemon.api_url}: stop it or choose another --port or --api")
    try:
        daemon.start()
    except JsIpfsError as error:
        raise UserError(str(error)) from None
    try:
        _announce(daemon)
        code = _keep_peers(daemon, args.peer)
        print(f"the IPFS daemon exited with code {code}; its log: {daemon.log_path}", file=sys.stderr)
        return 1
    finally:
        daemon.stop()


def _announce(daemon: JsIpfsDaemon) -> None:
    print(f"IPFS daemon (js-ipfs, Kubo-compatible RPC API) on {daemon.api_url}, PID {daemon.pid}, "
          f"repository {daemon.repo}")
    print(f"Use it with --ipfs {daemon.api_url}; read through its gateway with --ipfs gateway+{daemon.gateway_url}")
    print("Other nodes connect to it with --peer (or `run.py ipfs connect`) and one of:")
    for address in swarm.local_addresses(daemon.api_url):
        print(f"  {address}")
    print("Ctrl-C to stop.", flush=True)


def _keep_peers(daemon: JsIpfsDaemon, peers: list[str]) -> int:
    """Until the daemon exits (its exit code): every few seconds, connect to the peers it is not
    connected to; each change of a peer's state is said once."""
    connected: dict[str, bool] = {}
    while True:
        if peers:
            try:
                states = swarm.reconnect(daemon.api_url, peers)
            except StorageError as error:
                states = dict.fromkeys(peers, str(error))
            for peer, problem in states.items():
                if connected.get(peer) is not (problem is None):
                    print(f"connected to {peer}" if problem is None
                          else f"{problem} (trying again every {PEER_CHECK_SECONDS:g}s)", flush=True)
                    connected[peer] = problem is None
        code = daemon.wait(PEER_CHECK_SECONDS)
        if code is not None:
            return code
