"""Issue 11's table, the rows about IPFS daemons: CIDs nobody holds, a daemon that stops, a daemon
that drip-feeds. An outage postpones a close; it never rejects an honest update or aborts a round."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aleph_cid import compute_cid

from chain.contract import RoundState
from storage.cid import Cid
from storage.ipfs_daemon import IpfsHttpStore
from storage.jsipfs import JsIpfsDaemon, jsipfs_available
from storage.store import ContentNotFoundError, ContentTooLargeError
from tests.adversarial.conftest import hostile_federation
from tests.support import require_component

pytestmark = pytest.mark.costly  # a minute or so of end-to-end runs: scheduled first (tests/conftest.py)

HELLO = "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD"  # b"hello world"


def test_cids_nobody_holds_cost_one_deadline_together(tmp_path, jsipfs_daemon: JsIpfsDaemon) -> None:
    store = IpfsHttpStore(jsipfs_daemon.api_multiaddr)
    fetch_seconds = 4.0
    hostile = hostile_federation(tmp_path, "sign-flip", attackers=3, store=store, fetch_seconds=fetch_seconds)
    organization = hostile.organization
    round_id = hostile.answered_round(hostile.honest)
    for attacker in hostile.attackers:  # CIDs of bytes nobody ever added
        attacker.client.contract.submit_update(round_id, Cid.parse(compute_cid(os.urandom(64))), 300)
    outcome = organization.close_round(round_id)
    assert outcome.state is RoundState.FINALIZED and outcome.accepted == [True, True, True, False, False, False]
    # In parallel under one deadline: fetched one after another, the 2nd and 3rd would find the
    # deadline passed ("passed first") instead of each waiting for its CID the whole time.
    assert all("did not deliver" in outcome.rejections[i] for i in (3, 4, 5)), outcome.rejections


def test_daemon_down_while_screening_postpones_and_loses_nothing(tmp_path) -> None:
    require_component(jsipfs_available(), "js-ipfs", "run ./setup.sh to install the npm package ipfs")
    daemon = JsIpfsDaemon(tmp_path / "repo")
    daemon.start()
    try:
        store = IpfsHttpStore(daemon.api_multiaddr, attempts=2, backoff=0.1)
        hostile = hostile_federation(tmp_path, store=store)
        organization = hostile.organization
        round_id = hostile.answered_round(hostile.honest)
        daemon.stop()
        outcome = organization.close_round(round_id)
        assert outcome.state is RoundState.OPEN and "postponed" in outcome.reason and not outcome.rejections
        assert organization.contract.round(round_id).state is RoundState.OPEN  # not aborted on-chain
        daemon.start()  # same repository and ports: the updates are still there
        outcome = organization.close_round(round_id)
        assert outcome.state is RoundState.FINALIZED and outcome.accepted == [True, True, True]
    finally:
        daemon.stop()


class DripFeed(BaseHTTPRequestHandler):
    """Answers `cat` (and a gateway's GET) with one byte every 0.2 s (chunked), or with far too many
    bytes at once."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.send_response(200)
        try:
            if self.server.flood:  # type: ignore[attr-defined]
                self.send_header("Content-Length", str(10**7))
                self.end_headers()
                self.wfile.write(b"x" * 10**7)
                return
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(600):
                self.wfile.write(b"1\r\nx\r\n")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:  # the client hung up, as it should
            pass

    do_GET = do_POST

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


@contextmanager
def mimic_daemon(flood: bool, handler: type[BaseHTTPRequestHandler] = DripFeed) -> Iterator[str]:
    """A local HTTP server in the daemon's (or a gateway's) place; yields its API multiaddr."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.flood = flood  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"/ip4/127.0.0.1/tcp/{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("flood", [False, True], ids=["drip", "flood"])
def test_download_has_a_total_deadline_and_a_size_cap(flood: bool) -> None:
    with mimic_daemon(flood) as address:
        store = IpfsHttpStore(address, attempts=1)
        # Drip-fed 600 bytes over 2 minutes, never over the cap: only a total deadline ends it as "not found"
        with pytest.raises(ContentTooLargeError if flood else ContentNotFoundError,
                           match="over the limit of 5000" if flood else "within 1.5s"):
            store.get_bounded(HELLO, 5000, 1.5)


def test_drip_feeding_daemon_postpones_the_close_instead_of_hanging(tmp_path) -> None:
    hostile = hostile_federation(tmp_path, fetch_seconds=2.0)
    organization = hostile.organization
    round_id = hostile.answered_round(hostile.honest)
    with mimic_daemon(flood=False) as address:
        organization.store = IpfsHttpStore(address, attempts=1)  # its daemon starts drip-feeding
        outcome = organization.close_round(round_id)  # without a deadline: 2 minutes, then a bad file
    assert outcome.state is RoundState.OPEN and "postponed" in outcome.reason and not outcome.rejections


def test_updates_are_screened_as_they_land_and_not_fetched_again(tmp_path, monkeypatch) -> None:
    """Screened once as they land; aggregation then reads each accepted update once more (streaming:
    one at a time, nothing of it kept from screening)."""
    hostile = hostile_federation(tmp_path)
    organization, store = hostile.organization, hostile.store
    round_id = hostile.answered_round(hostile.honest[:2])
    organization.screen_landed(round_id)
    assert organization.screened(round_id) == 2
    fetched: list[str] = []
    fetch = store.get_bounded
    monkeypatch.setattr(store, "get_bounded", lambda cid, *args: fetched.append(str(cid)) or fetch(cid, *args))
    hostile.honest[2].participate(round_id)
    outcome = organization.close_round(round_id)
    assert outcome.state is RoundState.FINALIZED and outcome.accepted == [True, True, True]
    first, second, third = (str(s.cid) for s in organization.history.round(round_id).submissions)
    assert (fetched.count(first), fetched.count(second), fetched.count(third)) == (1, 1, 2)


def test_an_accepted_update_gone_before_aggregation_postpones_the_close(tmp_path) -> None:
    hostile = hostile_federation(tmp_path)
    organization, store = hostile.organization, hostile.store
    round_id = hostile.answered_round(hostile.honest[:3])
    organization.screen_landed(round_id)
    path = store.path_of(organization.history.round(round_id).submissions[0].cid)
    kept = path.read_bytes()
    path.unlink()  # screened and accepted, then lost by the organization's own store: an outage, no one's fault
    outcome = organization.close_round(round_id)
    assert outcome.state is RoundState.OPEN and "could not be read again" in (outcome.reason or "")
    path.write_bytes(kept)
    outcome = organization.close_round(round_id)
    assert outcome.state is RoundState.FINALIZED and outcome.accepted == [True, True, True]
