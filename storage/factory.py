"""`open_store`: the `--ipfs` option turned into a content store backend."""

from __future__ import annotations

from pathlib import Path

from storage.store import ContentStore

GATEWAY_PREFIX = "gateway+"  # `gateway+http://HOST:PORT`: read through an HTTP gateway


def open_store(spec: str, home: Path) -> ContentStore:
    """`embedded` for the on-disk store under `home/ipfs`, an IPFS daemon's API multiaddr, or
    `gateway+http(s)://HOST:PORT` for reading (only) through a gateway."""
    # Imported on demand: ipfshttpclient is slow to load and the embedded store does not need it.
    if spec == "embedded":
        from storage.embedded import EmbeddedStore

        return EmbeddedStore(Path(home) / "ipfs")
    if spec.startswith("/"):
        from storage.ipfs_daemon import IpfsHttpStore

        return IpfsHttpStore(spec)
    if spec.startswith(GATEWAY_PREFIX):
        from storage.gateway import GatewayStore

        return GatewayStore(spec.removeprefix(GATEWAY_PREFIX))
    raise ValueError(
        f"unknown IPFS store {spec!r}: use 'embedded', a daemon API multiaddr such as /ip4/127.0.0.1/tcp/5001 "
        "or gateway+http://HOST:PORT"
    )
