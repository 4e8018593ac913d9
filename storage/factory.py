"""`open_store`: the `--ipfs` option turned into a content store backend."""

from __future__ import annotations

from pathlib import Path

from storage.store import ContentStore


def open_store(spec: str, home: Path) -> ContentStore:
    """`embedded` for the on-disk store under `home/ipfs`, or an IPFS daemon's API multiaddr."""
    # Imported on demand: ipfshttpclient is slow to load and the embedded store does not need it.
    if spec == "embedded":
        from storage.embedded import EmbeddedStore

        return EmbeddedStore(Path(home) / "ipfs")
    if spec.startswith("/"):
        from storage.ipfs_daemon import IpfsHttpStore

        return IpfsHttpStore(spec)
    raise ValueError(
        f"unknown IPFS store {spec!r}: use 'embedded' or a daemon API multiaddr such as /ip4/127.0.0.1/tcp/5001"
    )
