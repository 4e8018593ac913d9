"""`run.py ipfs add` and `run.py ipfs cat`: the content store by hand, with one-line errors.

Expected failures (missing file, malformed CID, unreachable daemon, content that does not match
its CID) print `error: ...` on stderr and return exit code 1; they never show a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import BinaryIO

from cli.common import add_home_option, add_ipfs_option, home_of
from storage.factory import open_store
from storage.hashing import cid_of_file
from storage.store import StorageError


def register(commands: argparse._SubParsersAction) -> None:
    ipfs = commands.add_parser("ipfs")
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


def _fail(message: object) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def add_command(store_spec: str, home: Path, path: Path, only_hash: bool) -> int:
    """Print the file's CID; store it too unless `only_hash` (which touches no store at all)."""
    path = Path(path)
    if not path.is_file():
        return _fail(f"{path} is not a readable file")
    try:
        cid = cid_of_file(path) if only_hash else open_store(store_spec, home).add_file(path)
    except (OSError, ValueError, StorageError) as error:
        return _fail(error)
    print(cid)
    return 0


def cat_command(store_spec: str, home: Path, cid: str, out: BinaryIO) -> int:
    """Write the content of `cid` to `out`, only after it has been verified against the CID."""
    try:
        data = open_store(store_spec, home).get(cid)
    except (ValueError, StorageError) as error:
        return _fail(error)
    out.write(data)
    out.flush()
    return 0
