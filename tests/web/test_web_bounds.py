"""Web bounds (issue 19's table): a model download any page can trigger is capped at the task's model
size and streamed piece by piece (embedded store and IPFS daemon), and registrations well past a page
cost the client list a bounded number of chain requests, page by page."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from eth_account import Account

from chain.accounts import dev_account
from chain.backends import EmbeddedChain
from chain.deployments import DeploymentBook
from chain.metering import meter
from organization.service import OrganizationSettings
from organization.web import OrganizationNode
from organization.web import create_app as organization_app
from storage.embedded import EmbeddedStore
from storage.hashing import StreamingCid, cid_of_bytes
from storage.ipfs_daemon import IpfsHttpStore
from storage.store import STREAM_CHUNK, ContentStore
from webui.csrf import HEADER, TOKEN_KEY
from webui.explorer import CLIENTS_PER_PAGE, model_size_cap
from webui.link import ChainLink

TOKEN = "test-token"
PORT = 8124
BASE = f"http://127.0.0.1:{PORT}"
# More than a page and its few reads: a list costing one request per client would exceed the page's bound.
REGISTERED = CLIENTS_PER_PAGE + 20
SYBILS = [Account.from_key(bytes([7]) * 16 + index.to_bytes(16, "big")) for index in range(REGISTERED)]


class Site:
    """An organization's web app on a deployed contract with many registered clients."""

    def __init__(self, home: Path, accounts: list = SYBILS, store: ContentStore | None = None) -> None:
        self.chain, book = EmbeddedChain(accounts), DeploymentBook(None)
        self.store = store or EmbeddedStore(home / "ipfs")
        self.node = OrganizationNode(ChainLink(lambda: self.chain, lambda _: book, dev_account(0)), self.store,
                                     OrganizationSettings(task="2nn"), None, home / "organization", log=lambda _: None)
        self.web = organization_app(self.node, PORT).test_client()
        with self.web.session_transaction(base_url=BASE) as session:
            session[TOKEN_KEY] = TOKEN
        assert self.web.post("/api/deploy", json={}, headers={HEADER: TOKEN}, base_url=BASE).status_code == 200
        contract = self.node.link.require_contract()
        self.contract = contract

    def get(self, path: str, buffered: bool = True):
        return self.web.get(path, base_url=BASE, buffered=buffered)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """Shared: only test_registrations_past_a_page... changes its chain (the others add content or read)."""
    return Site(tmp_path_factory.mktemp("bounds"))


@pytest.fixture
def own_site(tmp_path: Path) -> Site:
    """A site of its own, for a test that opens rounds and registers (any order of tests then works)."""
    return Site(tmp_path, SYBILS[:1])


def test_a_model_over_the_tasks_cap_is_refused_before_it_is_read(site: Site) -> None:
    cap = model_size_cap("2nn")
    small, large = site.store.add_bytes(b"x" * 1000), site.store.add_bytes(np.zeros(cap + 1, np.uint8).tobytes())
    assert site.get(f"/models/{small}/download").data == b"x" * 1000
    tracemalloc.start()
    try:
        for path in (f"/models/{large}/download", f"/api/models/{large}"):
            answer = site.get(path)
            assert answer.status_code == 413
            message = answer.get_json()["error"] if answer.is_json else answer.get_data(as_text=True)
            assert f"over the limit of {cap}" in message
        assert tracemalloc.get_traced_memory()[1] < cap // 4  # the file was never read
    finally:
        tracemalloc.stop()


@pytest.fixture(params=["embedded", "daemon"])
def download_site(request: pytest.FixtureRequest, tmp_path: Path) -> Site:
    """A site on the embedded store or on a js-ipfs daemon (required in CI)."""
    if request.param == "embedded":
        return Site(tmp_path, SYBILS[:1])
    daemon = request.getfixturevalue("jsipfs_daemon")
    return Site(tmp_path, SYBILS[:1], IpfsHttpStore(daemon.api_multiaddr, timeout=3))


def test_a_download_is_streamed_in_pieces_never_held_whole(download_site: Site) -> None:
    site, cap = download_site, model_size_cap("2nn")
    data = os.urandom(cap)  # the largest file the cap lets through
    cid = site.store.add_bytes(data)
    tracemalloc.start()
    try:
        answer = site.get(f"/models/{cid}/download", buffered=False)
        assert answer.status_code == 200 and answer.is_streamed
        assert answer.headers["Content-Length"] == str(cap) and "attachment" in answer.headers["Content-Disposition"]
        hasher, sizes = StreamingCid(), []
        for piece in answer.response:
            hasher.update(piece)
            sizes.append(len(piece))
        answer.close()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert hasher.finalize() == cid and sum(sizes) == cap and max(sizes) <= STREAM_CHUNK
    assert peak < cap // 4  # a few pieces at a time, never the file

    for unknown in (cid_of_bytes(b"nobody has this"), "not-a-cid"):
        answer = site.get(f"/models/{unknown}/download")
        assert answer.status_code == 404, answer.get_data(as_text=True)


def test_a_download_whose_bytes_change_ends_short_without_an_error_page(own_site: Site) -> None:
    """Once the status is sent, a failure must not add an error page to the file: it ends short."""
    data = os.urandom(4 * STREAM_CHUNK)
    cid = own_site.store.add_bytes(data)
    answer = own_site.get(f"/models/{cid}/download", buffered=False)
    own_site.store.path_of(cid).write_bytes(data[:-1] + b"?")  # before the first byte is read
    body = b"".join(answer.response)
    assert answer.status_code == 200 and answer.headers["Content-Length"] == str(len(data))
    assert len(body) < len(data) and body == data[:len(body)]


def test_registrations_past_a_page_cost_the_client_list_one_page_of_requests(site: Site) -> None:
    contract = site.contract
    if not contract.registration_open():
        contract.set_registration_open(True)
    for account in SYBILS:
        contract.with_account(account).register()
    requests = meter(site.chain.web3)

    first = site.get("/api/clients").get_json()
    assert first["total"] == REGISTERED and first["page"] == 1 and first["per_page"] == CLIENTS_PER_PAGE
    assert [row["address"] for row in first["clients"]] == [a.address for a in SYBILS[:CLIENTS_PER_PAGE]]
    assert all(row["status"] == "registered" and row["submissions"] == 0 for row in first["clients"])
    # the page's 50 clients and a few reads of the contract, never one call per registered client
    assert requests.requests["eth_call"] <= CLIENTS_PER_PAGE + 5 and requests.requests["eth_getLogs"] == 1

    before = requests.snapshot()[0]
    assert site.get("/api/clients").get_json() == first  # the same block: remembered
    assert requests.snapshot()[0] - before == 1  # the block number, to know it is the same block

    site.chain.mine_blocks(1)
    calls, logs = requests.requests["eth_call"], requests.requests["eth_getLogs"]
    site.get("/api/clients")
    assert requests.requests["eth_getLogs"] - logs == 1  # one log query per new block
    assert requests.requests["eth_call"] - calls <= CLIENTS_PER_PAGE + 5

    pages = [site.get(f"/api/clients?page={page}&per_page=40").get_json()["clients"] for page in (1, 2, 3, 4)]
    assert [row["address"] for page in pages for row in page] == [a.address for a in SYBILS]
    assert [len(page) for page in pages] == [40, REGISTERED - 40, 0, 0]  # a last page part full, then none


@pytest.mark.parametrize("query", ["page=0", "page=x", "per_page=0", "per_page=100000", "page=-1"])
def test_bad_paging_is_one_line(site: Site, query: str) -> None:
    answer = site.get(f"/api/clients?{query}")
    assert answer.status_code == 400 and "must be a whole number" in answer.get_json()["error"]


def test_an_oversized_submission_is_not_read_by_the_round_view(own_site: Site) -> None:
    site = own_site
    size = 8 * model_size_cap("2nn")  # the view reads the base model itself: a few megabytes
    large = site.store.add_bytes(np.ones(size, np.uint8).tobytes())
    opened = site.web.post("/api/rounds", json={"quorum": 1, "deadline_blocks": 100}, headers={HEADER: TOKEN},
                           base_url=BASE)
    assert opened.status_code == 201, opened.get_json()
    contract = site.contract
    if not contract.registration_open():
        contract.set_registration_open(True)
    sybil = contract.with_account(SYBILS[0])
    sybil.register()
    sybil.submit_update(contract.round_count(), large, 1)
    tracemalloc.start()
    try:
        detail = site.get(f"/api/rounds/{contract.round_count()}").get_json()
        assert tracemalloc.get_traced_memory()[1] < size // 2
    finally:
        tracemalloc.stop()
    (row,) = detail["submissions"]
    assert row["cid"] == str(large) and row["norm"] is None and detail["analysis_problem"] is None
