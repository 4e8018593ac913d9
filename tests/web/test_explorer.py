"""The explorer behind both web interfaces, on the in-process chain with one real round: round, model,
transaction and client views; Host checks; readable 500s; client management; outages; manual deadlines."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import requests

from chain.accounts import dev_account
from chain.backends import EmbeddedChain
from chain.deployments import DeploymentBook
from client.service import Client, ClientSettings
from client.state import ClientState
from organization.service import OrganizationSettings
from organization.web import OrganizationNode
from organization.web import create_app as organization_app
from storage.embedded import EmbeddedStore
from storage.hashing import cid_of_bytes
from tasks.mnist import load_mnist
from webui.csrf import HEADER, TOKEN_KEY
from webui.link import ChainLink

TOKEN = "test-token"
PORT = 8123
BASE = f"http://127.0.0.1:{PORT}"


class Round:
    """An organization app on the embedded chain after one finalized round with two clients."""

    def __init__(self, home: Path) -> None:
        self.chain, book = EmbeddedChain(), DeploymentBook(None)
        self.store = EmbeddedStore(home / "ipfs")
        train, test = load_mnist("mnist-5k", None)
        self.node = OrganizationNode(ChainLink(lambda: self.chain, lambda _: book, dev_account(0)), self.store,
                                     OrganizationSettings(task="2nn", quorum=2, target=2, window_blocks=0),
                                     test.subset(np.arange(200)),
                                     home / "organization", log=lambda _: None)
        self.app = organization_app(self.node, PORT)
        self.web = self.app.test_client()
        with self.web.session_transaction(base_url=BASE) as session:
            session[TOKEN_KEY] = TOKEN
        assert self.post("/api/deploy").status_code == 200
        assert self.post("/api/rounds", {"quorum": 2, "deadline_blocks": 100}).status_code == 201
        contract = self.node.link.require_contract()
        self.clients = []
        for index in (1, 2):
            client = Client(contract.with_account(dev_account(index)), self.store,
                            train.subset(np.arange(index * 40, index * 40 + 30 * index)),
                            ClientState(home / f"client{index}"), ClientSettings(), log=lambda _: None)
            client.ensure_registered()
            client.participate(1)
            self.clients.append(client)
        assert self.post("/api/rounds/current/aggregate").status_code == 202
        self.node.jobs.wait(120)

    def post(self, path: str, body: dict | None = None):
        return self.web.post(path, json=body or {}, headers={HEADER: TOKEN}, base_url=BASE)

    def get(self, path: str, **options):
        return self.web.get(path, base_url=BASE, **options)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Round:
    return Round(tmp_path_factory.mktemp("explorer"))


def test_round_view_has_weight_shares_norms_cosines_and_times(finished: Round) -> None:
    detail = finished.get("/api/rounds/1").get_json()
    assert detail["state"] == "finalized" and detail["strategy"]["name"] == "fedavg"
    shares = [s["weight_share"] for s in detail["submissions"]]
    assert shares == pytest.approx([30 / 75, 45 / 75])  # 30 and 60 examples, each claim capped at the median 45
    for submission in detail["submissions"]:
        assert submission["accepted"] is True and submission["norm"] > 0
        assert 0 < submission["cosine"] <= 1 + 1e-9  # each update points roughly where the mean goes
        assert submission["submitted_at"] >= detail["opened_at"]
    assert detail["closed_at"] >= detail["opened_at"] and 0 < detail["accuracy"] <= 1 and detail["loss"] > 0
    unknown = finished.node.link.require_contract().round_count() + 1  # later tests may open rounds
    assert finished.get(f"/api/rounds/{unknown}").status_code == 404
    assert finished.get(f"/rounds/{unknown}").status_code == 404
    assert "<title>Round 1 " in finished.get("/rounds/1").get_data(as_text=True)


def test_model_view_lists_tensors_and_downloads_the_exact_bytes(finished: Round) -> None:
    result = finished.get("/api/rounds/1").get_json()["result_cid"]
    model = finished.get(f"/api/models/{result}").get_json()
    assert model["kind"] == "model" and model["architecture"] == "mnist-2nn" and model["round"] == 1
    shapes = {t["name"]: t["shape"] for t in model["tensors"]}
    assert shapes["fc1.weight"] == [200, 784] and all(t["norm"] > 0 for t in model["tensors"])
    assert model["extra"]["strategy"] == "fedavg"
    download = finished.get(f"/models/{result}/download")
    assert download.status_code == 200 and download.data == finished.store.get(result)
    assert "attachment" in download.headers["Content-Disposition"]
    assert finished.get("/api/models/QmNotACid").status_code == 404
    unknown = cid_of_bytes(b"never stored")
    assert finished.get(f"/api/models/{unknown}").status_code == 404
    page = finished.get(f"/models/{unknown}")
    assert page.status_code == 404 and "<html" in page.get_data(as_text=True).lower()


def test_transaction_view_decodes_the_call_and_its_events(finished: Round) -> None:
    detail = finished.get("/api/rounds/1").get_json()
    submit = finished.get(f"/api/tx/{detail['submissions'][0]['tx']}").get_json()
    assert submit["status"] == "success" and submit["call"]["function"] == "submitUpdate"
    args = {arg["name"]: arg["value"] for arg in submit["call"]["args"]}
    assert args["cid"] == detail["submissions"][0]["cid"]  # the digest shown as its CID
    assert submit["events"][0]["event"] == "UpdateSubmitted" and submit["gas_used"] > 21_000
    assert submit["fee_ether"] > 0 and submit["time"] == detail["submissions"][0]["submitted_at"]
    close = finished.get(f"/api/tx/{detail['close_tx']}").get_json()
    assert close["call"]["function"] == "finalizeRound"
    contract = finished.node.link.require_contract()
    (abi,) = [entry for entry in contract.artifact.abi if entry.get("name") == "finalizeRound"]
    assert [(a["name"], a["type"]) for a in close["call"]["args"]] == [(i["name"], i["type"]) for i in abi["inputs"]]
    assert close["call"]["signature"].startswith(f"finalizeRound({abi['inputs'][0]['type']} ")
    assert close["call"]["round"] == 1 and close["call"]["contract"] == contract.address
    assert [e["event"] for e in close["events"]][-1] == "RoundFinalized"
    assert finished.get("/api/tx/0x" + "ab" * 32).status_code == 404
    assert finished.get("/tx/0x" + "ab" * 32).status_code == 404  # well formed, but not on this chain
    assert finished.get("/tx/not-a-hash").status_code == 404


def test_client_view_lists_its_submissions_with_outcome_and_share(finished: Round) -> None:
    address = finished.clients[1].address
    view = finished.get(f"/api/clients/{address.lower()}").get_json()
    assert view["address"] == address and view["status"] == "registered"
    (submission,) = view["submissions"]
    assert submission["round"] == 1 and submission["accepted"] is True
    assert submission["weight_share"] == pytest.approx(45 / 75) and view["samples"] == 60  # capped at the median
    listing = finished.get("/api/clients").get_json()["clients"]
    assert [c["address"] for c in listing] == [c.address for c in finished.clients]
    assert finished.get("/api/clients/0x1234").status_code == 404
    stranger = dev_account(8).address  # an address, but never a client of this contract
    assert finished.get(f"/api/clients/{stranger}").status_code == 404
    assert finished.get(f"/clients/{stranger}").status_code == 404


def test_pages_and_the_favicon_are_served(finished: Round) -> None:
    detail = finished.get("/api/rounds/1").get_json()
    for path in (f"/models/{detail['result_cid']}", f"/tx/{detail['open_tx']}",
                 f"/clients/{detail['submissions'][0]['client']}", "/"):
        page = finished.get(path)
        assert page.status_code == 200 and 'rel="icon"' in page.get_data(as_text=True), path
    icon = finished.get("/favicon.ico", follow_redirects=True)
    assert icon.status_code == 200 and b"<svg" in icon.data


def test_other_host_names_are_refused_and_get_no_token(finished: Round) -> None:
    """DNS rebinding: attacker.example resolving to 127.0.0.1 must neither read nor act."""
    foreign, attacker = finished.app.test_client(), f"http://attacker.example:{PORT}"
    rounds_before = finished.node.link.require_contract().round_count()
    page = foreign.get("/", base_url=attacker)
    assert page.status_code == 421 and "csrf" not in page.get_data(as_text=True).lower()
    assert "Set-Cookie" not in page.headers
    with foreign.session_transaction(base_url=attacker) as session:
        session[TOKEN_KEY] = TOKEN  # even a valid token does not make a foreign Host work
    answer = foreign.post("/api/rounds", json={"quorum": 1}, headers={HEADER: TOKEN}, base_url=attacker)
    assert answer.status_code == 421
    assert finished.node.link.require_contract().round_count() == rounds_before
    assert finished.app.test_client().get("/api/status", base_url=f"http://localhost:{PORT}").status_code == 200


def test_unexpected_errors_carry_no_internals(finished: Round, monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    def broken(round_id: int) -> dict:
        raise RuntimeError("secret detail in /home/someone/.fedchain")

    monkeypatch.setattr(finished.node.explorer, "round_detail", broken)
    with caplog.at_level(logging.ERROR, logger="webui"):
        answer = finished.get("/api/rounds/1")
    assert answer.status_code == 500
    body = answer.get_data(as_text=True)
    assert "secret" not in body and "RuntimeError" not in body and "log has the details" in body
    assert "secret detail" in caplog.text  # the service's log keeps it


def test_clients_can_be_allowed_and_removed_and_registration_switched(finished: Round) -> None:
    contract = finished.node.link.require_contract()
    assert "allow-list" in finished.post("/api/registration", {"open": False}).get_json()["message"]
    assert contract.registration_open() is False
    newcomer = dev_account(5).address
    assert finished.post("/api/clients/allow", {"address": newcomer.lower()}).status_code == 200
    assert str(contract.client_info(newcomer).status) == "allowed"
    assert finished.post("/api/clients/remove", {"address": newcomer}).status_code == 200
    assert str(contract.client_info(newcomer).status) == "removed"
    refused = finished.post("/api/clients/allow", {"address": "0x12"})
    assert refused.status_code == 400 and "address must be an Ethereum address" in refused.get_json()["error"]
    assert finished.post("/api/registration", {"open": True}).status_code == 200
    assert contract.registration_open() is True


def test_manual_mode_mines_blocks_until_the_deadline_passes_and_says_overdue(finished: Round) -> None:
    finished.node.organization().settings = OrganizationSettings(task="2nn", quorum=2, target=2, window_blocks=0)
    assert finished.post("/api/rounds", {"quorum": 2, "deadline_blocks": 3}).status_code == 201
    contract = finished.node.link.require_contract()
    opened = contract.round_count()
    assert finished.get("/api/status").get_json()["round"]["overdue"] is False
    for _ in range(4):
        finished.node.idle_tick()  # what the node's loop does each poll while automatic rounds are off
    passed = contract.block_number()
    assert passed > contract.round(opened).deadline
    finished.node.idle_tick()
    assert contract.block_number() == passed  # past the deadline there is nothing to wait for: the user decides
    late = finished.get("/api/status").get_json()["round"]
    assert late["overdue"] is True and late["blocks_left"] == 0
    assert finished.post("/api/rounds/current/abort").status_code == 200
    aborted = contract.block_number()
    finished.node.idle_tick()
    assert contract.block_number() == aborted  # nothing while no round is open


def test_a_chain_outage_keeps_the_last_known_data(finished: Round, monkeypatch: pytest.MonkeyPatch) -> None:
    status = finished.get("/api/status").get_json()
    rounds = finished.get("/api/rounds").get_json()["rounds"]
    assert status["contract"] and not status.get("stale")

    def refused(eth: object) -> int:
        raise requests.ConnectionError("connection refused")

    monkeypatch.setattr(type(finished.chain.web3.eth), "block_number", property(refused))
    during = finished.get("/api/status").get_json()
    assert during["stale"] is True and during["contract"]["address"] == status["contract"]["address"]
    assert during["last_block"] == status["chain"]["block"]
    assert any(problem.startswith("Chain unreachable") for problem in during["problems"])
    kept = finished.get("/api/rounds")
    assert kept.status_code == 200 and kept.get_json()["rounds"] == rounds
