"""`run.py ipfs add|cat|daemon`: the content store by hand, with one-line errors, and the bundled daemon.

Expected failures (missing file, malformed CID, unreachable daemon, content that does not match
its CID) print `error: ...` on stderr and return exit code 1; they never show a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import BinaryIO

from cli.common import add_home_option, add_ipfs_option, home_of, open_ipfs_store
from cli.ipfs_address import daemon_problem
from protocol.errors import UserError
from storage.hashing import cid_of_file
from storage.jsipfs import JsIpfsDaemon, JsIpfsError
from storage.store import StorageError

DEFAULT_API_PORT = 5001  # Kubo's


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
    daemon.add_argument("--port", type=int, default=DEFAULT_API_PORT, help="port of its HTTP RPC API")
    daemon.set_defaults(handler=run_daemon)


def _fail(message: object) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def add_command(store_spec: str, home: Path, path: Path, only_hash: bool) -> int:
    """Print the file's CID; store it too unless `only_hash` (which touches no store at all)."""
    path = Path(path)
    if not path.is_file():
        return _fail(f"{path} is not a readable file")
    try:
        cid = cid_of_file(path) if only_hash else open_ipfs_store(store_spec, home).add_file(path)
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


def run_daemon(args: argparse.Namespace) -> int:
    """Like `run.py chain`: the daemon in the foreground until Ctrl-C or SIGTERM, stopped by its PID."""
    url = f"http://127.0.0.1:{args.port}"
    if daemon_problem(f"/ip4/127.0.0.1/tcp/{args.port}")[0]:
        raise UserError(f"something already answers at {url}: stop it or choose another --port")
    repo = home_of(args) / "ipfs-daemon"
    daemon = JsIpfsDaemon(repo, api_port=args.port)
    try:
        daemon.start()
    except JsIpfsError as error:
        raise UserError(str(error)) from None
    try:
        print(f"IPFS daemon (js-ipfs, Kubo-compatible RPC API) on {url}, PID {daemon.pid}, repository {repo}")
        print(f"Use it with --ipfs {url}. Ctrl-C to stop.", flush=True)
        code = daemon.wait()
        print(f"the IPFS daemon exited with code {code}; its log: {daemon.log_path}", file=sys.stderr)
        return 1
    finally:
        daemon.stop()
