"""A secure round run through the web interfaces on the in-process chain: the organization's node
opens it from its form and drives it with the round driver, two clients take part through their
web nodes and two headless (one joins, posts shares and drops out); the pages show the phases with
their deadlines, the participants, the reveals and the recovery of the dropped one, and the
explorer shows masked submissions without any norm, cosine or weight share."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from chain.accounts import dev_account
from chain.backends import EmbeddedChain
from chain.contract import ParticipantStatus, RoundState
from chain.deployments import DeploymentBook
from client.driver import ParticipantDriver
from client.service import Client, ClientSettings
from client.state import ClientState
from client.web import ClientNode
from client.web import create_app as client_app
from mlprocessor.partition import partition
from organization.service import OrganizationSettings
from organization.web import OrganizationNode
from organization.web import create_app as organization_app
from protocol.plan import TrainingPlan
from storage.embedded import EmbeddedStore
from tests.protocol.conftest import small_data
from tests.support import free_port
from webui.csrf import HEADER, TOKEN_KEY
from webui.link import ChainLink

TOKEN = "test-token"
PORT = 8124
BASE = f"http://127.0.0.1:{PORT}"
EXAMPLES = 100
JOB_SECONDS = 300


class Web:
    """One app's test client, with the session token its forms carry."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        with client.session_transaction(base_url=BASE) as session:
            session[TOKEN_KEY] = TOKEN

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.client.post(path, json=body or {}, headers={HEADER: TOKEN}, base_url=BASE)

    def get(self, path: str) -> Any:
        return self.client.get(path, base_url=BASE)


@dataclass
class SecureWebRound:
    organization: OrganizationNode
    web: Web
    client_nodes: list[ClientNode]
    client_webs: list[Web]
    headless: list[ParticipantDriver]
    seen: dict[str, Any]  # the pages' status answers at moments of the round


def _run(home: Path) -> SecureWebRound:
    chain, book = EmbeddedChain(), DeploymentBook(None)
    store = EmbeddedStore(home / "ipfs")
    train, test = small_data()

    def link(index: int) -> ChainLink:
        return ChainLink(lambda: chain, lambda _: book, dev_account(index))

    settings = OrganizationSettings(task="2nn", plan=TrainingPlan(epochs=1, batch_size=10, lr=0.1))
    organization = OrganizationNode(link(0), store, settings, test, home / "organization", log=lambda _: None)
    web = Web(organization_app(organization, PORT).test_client())
    assert web.post("/api/deploy").status_code == 200
    parts = [part[::len(part) // EXAMPLES][:EXAMPLES] for part in partition(train.y, 4, "iid", seed=0)]
    client_nodes = [ClientNode(link(index), store, train.subset(parts[index - 1]),
                               ClientState(home / "clients" / dev_account(index).address), ClientSettings(task="2nn"),
                               "a test part", log=lambda _: None, secure=True) for index in (1, 2)]
    client_webs = [Web(client_app(node, PORT).test_client()) for node in client_nodes]
    for client_web in client_webs:
        answer = client_web.post("/api/register")
        assert answer.status_code == 200 and "secure-aggregation key" in answer.get_json()["message"]
    contract = organization.link.require_contract()
    headless = []
    for index in (3, 4):
        account = dev_account(index)
        client = Client(contract.with_account(account), store, train.subset(parts[index - 1]),
                        ClientState(home / "clients" / account.address), ClientSettings(task="2nn"),
                        log=lambda _: None)
        client.ensure_registered()
        headless.append(ParticipantDriver(client, secure=True, drop_out=index == 4))

    opened = web.post("/api/secure-rounds", {"phase_blocks": 12, "min_participants": 3, "threshold": 3,
                                             "max_samples": 500})
    assert opened.status_code == 201, opened.get_json()
    seen: dict[str, Any] = {}
    for _ in range(200):
        if contract.round(1).state is not RoundState.OPEN:
            break
        for node in client_nodes:
            node.auto_tick()  # what the switch "take part automatically" runs each poll
            node.jobs.wait(JOB_SECONDS)
            assert node.jobs.current is None or node.jobs.current.state == "done", node.jobs.current.message
        for driver in headless:
            driver.execute(*driver.decide())
        status = web.get("/api/status").get_json()
        if status["round"] is not None:
            phase = status["round"]["secure"]["phase"]
            seen.setdefault(phase, status)
            seen.setdefault(f"client {phase}", client_webs[0].get("/api/status").get_json())
        organization.auto_tick()  # the automatic switch: waits out the phases, then unmasks and finalizes
        organization.jobs.wait(JOB_SECONDS)
    return SecureWebRound(organization, web, client_nodes, client_webs, headless, seen)


@pytest.fixture(scope="module")
def secure_round(tmp_path_factory: pytest.TempPathFactory) -> SecureWebRound:
    return _run(tmp_path_factory.mktemp("secure-web"))


def test_the_web_nodes_run_a_secure_round_to_finalized_and_it_verifies(secure_round: SecureWebRound) -> None:
    contract = secure_round.organization.link.require_contract()
    assert contract.round(1).state is RoundState.FINALIZED, secure_round.organization.jobs.current
    for node in secure_round.client_nodes:  # both web clients took every step, reveal included
        assert contract.participant_status(1, node.link.account.address) is ParticipantStatus.REVEALED
    verification = secure_round.web.post("/api/rounds/1/verify").get_json()
    assert verification["ok"] is True, verification


def test_the_dashboards_show_the_phases_with_deadlines_and_blocks_left(secure_round: SecureWebRound) -> None:
    join = secure_round.seen["join"]["round"]
    phases = join["secure"]["phases"]
    assert [p["name"] for p in phases] == ["join", "share", "submit", "review", "reveal"]
    deadlines = [p["deadline"] for p in phases]
    assert deadlines == sorted(deadlines) and deadlines[1] - deadlines[0] == 12
    assert phases[0]["current"] and phases[0]["blocks_left"] > 0 and join["secure"]["threshold"] == 3
    assert join["next"]["act"] == "wait" and "join phase until block" in join["next"]["reason"]
    review = secure_round.seen["review"]["round"]  # the organization reviews the masked files, then ends it
    assert review["next"]["act"] == "review" and review["secure"]["excluded"] == 0
    reveal = secure_round.seen["reveal"]["round"]["secure"]
    assert reveal["submitted"] == 3 and reveal["shared"] == 4 and reveal["phases"][2]["blocks_left"] == 0
    client = secure_round.seen["client join"]["round"]
    assert [p["deadline"] for p in client["secure"]["phases"]] == deadlines and client["secure"]["phase"] == "join"
    assert client["participant"] in ("none", "joined") and client["next"]["act"] in ("join", "prepare", "wait")


def test_the_round_page_shows_joins_reveals_and_the_recovered_dropout(secure_round: SecureWebRound) -> None:
    detail = secure_round.web.get("/api/rounds/1").get_json()
    assert detail["secure"] is True and detail["state"] == "finalized" and detail["abort_reason"] is None
    secure = detail["secure_round"]
    assert secure["phase"] == "finalized" and [p["blocks_left"] for p in secure["phases"]] == [0] * 5
    statuses = {p["address"]: p["status"] for p in secure["participants"]}
    dropout = secure_round.headless[1].client.address
    assert statuses.pop(dropout) == "dropped" and set(statuses.values()) == {"revealed"}
    assert [p["index"] for p in secure["participants"]] == [0, 1, 2, 3]
    assert len(secure["reveals"]) == 3 and all(r["key_shares"] == 1 for r in secure["reveals"])
    assert secure["recoveries"] == [{"address": dropout, "key_shares": 3, "threshold": 3, "recovered": True,
                                     "why": "no masked update"}]
    survivors = [p for p in secure["participants"] if p["status"] == "revealed"]
    assert all(p["self_shares_revealed"] == 3 and p["update_cid"] for p in survivors)
    page = secure_round.web.get("/rounds/1").get_data(as_text=True)
    for element in ('id="secure-phases"', 'id="participants"', 'id="reveals"', 'id="recoveries"', 'id="outcome"'):
        assert element in page


def test_the_explorer_shows_masked_submissions_without_norms_or_shares(secure_round: SecureWebRound) -> None:
    for web in (secure_round.web, secure_round.client_webs[0]):  # both interfaces' explorers
        detail = web.get("/api/rounds/1").get_json()
        assert len(detail["submissions"]) == 3
        for submission in detail["submissions"]:
            assert submission["masked"] is True and submission["accepted"] is True
            assert submission["weight_share"] is None and submission["norm"] is None
            assert submission["cosine"] is None
    row = secure_round.web.get("/api/rounds").get_json()["rounds"][0]
    assert row["secure"] is True and row["accepted"] == 3


def test_the_pages_render_the_secure_round_in_a_browser(secure_round: SecureWebRound, browser: Any) -> None:
    """The scripts fill the round page's secure part and the dashboard's history from the JSON above."""
    port = free_port()
    server = make_server("127.0.0.1", port, organization_app(secure_round.organization, port), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page = browser.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"http://127.0.0.1:{port}/rounds/1")
        page.locator("#participants tbody tr").nth(3).wait_for()
        assert page.is_visible("#secure-card")
        assert page.locator("#secure-phases tbody tr").count() == 5
        assert page.locator("#recoveries tbody").inner_text().count("yes: recovered") == 1
        assert page.locator("#reveals tbody tr").count() == 3
        assert page.locator("#outcome").inner_text() == "finalized"
        assert set(page.locator("#submissions td.share").all_inner_texts()) == {"masked"}
        assert set(page.locator("#submissions td.norm").all_inner_texts()) == {"masked"}
        page.goto(f"http://127.0.0.1:{port}/")
        page.locator("#history td.state", has_text="finalized (secure)").wait_for()
        page.close()
    finally:
        server.shutdown()
        thread.join()


def test_a_secure_round_nobody_joins_is_aborted_with_its_reasons_shown(tmp_path: Path) -> None:
    chain, book = EmbeddedChain(), DeploymentBook(None)
    organization = OrganizationNode(ChainLink(lambda: chain, lambda _: book, dev_account(0)),
                                    EmbeddedStore(tmp_path / "ipfs"), OrganizationSettings(task="2nn"), None,
                                    tmp_path / "organization", log=lambda _: None)
    web = Web(organization_app(organization, PORT).test_client())
    assert web.post("/api/deploy").status_code == 200
    refused = web.post("/api/secure-rounds", {"threshold": 1})
    assert refused.status_code == 400 and "threshold is 0" in refused.get_json()["error"]
    assert web.post("/api/secure-rounds", {"phase_blocks": 2}).status_code == 201
    contract = organization.link.require_contract()
    for _ in range(10):
        if contract.round(1).state is not RoundState.OPEN:
            break
        organization.auto_tick()
    detail = web.get("/api/rounds/1").get_json()
    assert detail["state"] == "aborted" and detail["abort_reason"] == "too few joined"
    assert detail["organization_reason"] == "0 joined, fewer than 3"
    assert detail["secure_round"]["participants"] == [] and detail["secure_round"]["phase"] == "aborted"
