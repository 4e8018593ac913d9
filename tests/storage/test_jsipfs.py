"""The js-ipfs runner: content survives a restart, a stale lock does not block it, stop ends our PID."""

from __future__ import annotations

import os
from pathlib import Path

from storage.ipfs_daemon import IpfsHttpStore
from storage.jsipfs import JsIpfsDaemon, jsipfs_available
from tests.support import require_component


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_restart_keeps_pinned_content_and_clears_stale_lock(tmp_path: Path) -> None:
    require_component(jsipfs_available(), "js-ipfs", "run `npm install` in the repository root")
    daemon = JsIpfsDaemon(tmp_path / "repo")
    with daemon:
        cid = IpfsHttpStore(daemon.api_multiaddr).add_bytes(b"kept across restarts")
        pid = daemon.pid
    assert pid is not None and not _alive(pid)

    (daemon.repo / "repo.lock").mkdir()  # as left by a daemon that died
    with daemon:
        store = IpfsHttpStore(daemon.api_multiaddr)
        assert store.has(cid)
        assert store.get(cid) == b"kept across restarts"
