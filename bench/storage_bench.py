"""Add/get times of the content stores for a model-sized (6.6 MB, the CNN) and a 50 MB file.

Run: `.venv/bin/python bench/storage_bench.py`. The daemon column uses a private js-ipfs daemon
started for the run (needs `npm install`), or the daemon at `--ipfs MULTIADDR` when given.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage.embedded import EmbeddedStore
from storage.ipfs_daemon import IpfsHttpStore
from storage.jsipfs import JsIpfsDaemon
from storage.store import ContentStore

SIZES = {"6.6 MB": 6_600_000, "50 MB": 50_000_000}
T = TypeVar("T")


def _timed(action: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def bench(name: str, store: ContentStore, work: Path) -> None:
    for label, size in SIZES.items():
        source = work / f"{size}.bin"
        if not source.exists():
            source.write_bytes(np.random.default_rng(size).bytes(size))
        add_seconds, cid = _timed(lambda source=source: store.add_file(source))
        get_seconds, data = _timed(lambda cid=cid: store.get(cid))
        assert len(data) == size
        print(
            f"{name:<9} {label:>7}  add_file {add_seconds * 1000:7.1f} ms  "
            f"get (verified) {get_seconds * 1000:7.1f} ms  {size / 1e6 / add_seconds:6.0f} MB/s add  {cid}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ipfs", help="an IPFS daemon API multiaddr instead of a private js-ipfs daemon")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", "The 'strict' parameter", FutureWarning)  # ipfshttpclient vs urllib3
    with tempfile.TemporaryDirectory(prefix="storage-bench-") as tmp:
        work = Path(tmp)
        bench("embedded", EmbeddedStore(work / "embedded"), work)
        if args.ipfs:
            bench("daemon", IpfsHttpStore(args.ipfs, timeout=120), work)
            return
        with JsIpfsDaemon(work / "jsipfs") as daemon:
            bench("js-ipfs", IpfsHttpStore(daemon.api_multiaddr, timeout=120), work)


if __name__ == "__main__":
    main()
