"""The web apps through Flask's test client: CSRF, input validation, readable errors, outages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from flask.testing import FlaskClient

from chain.accounts import dev_account
from chain.backends import EmbeddedChain, connect
from chain.deployments import DeploymentBook
from client.service import ClientSettings
from client.state import ClientState
from client.web import ClientNode
from client.web import create_app as client_app
from mlprocessor.data import Dataset
from organization.service import OrganizationSettings
from organization.web import OrganizationNode
from organization.web import create_app as organization_app
from storage.embedded import EmbeddedStore
from tests.support import free_port
from webui.csrf import HEADER, TOKEN_KEY
from webui.link import ChainLink

TOKEN = "test-token"


def _organization(link: ChainLink, home: Path) -> FlaskClient:
    node = OrganizationNode(link, EmbeddedStore(home / "ipfs"), OrganizationSettings(task="2nn"), None,
                            home / "organization", log=lambda _: None)
    return _with_token(organization_app(node).test_client())


def _with_token(client: FlaskClient) -> FlaskClient:
    with client.session_transaction() as session:
        session[TOKEN_KEY] = TOKEN
    return client


def _post(client: FlaskClient, path: str, body: dict | None = None, token: str | None = TOKEN):
    headers = {HEADER: token} if token else {}
    return client.post(path, json=body or {}, headers=headers)


@pytest.fixture
def unreachable(tmp_path: Path) -> FlaskClient:
    """The organization's app with its chain down: a port nothing listens on."""
    url = f"http://127.0.0.1:{free_port()}"
    return _organization(ChainLink(lambda: connect(url, tmp_path), lambda _: DeploymentBook(None), dev_account(0)),
                         tmp_path)


@pytest.fixture
def embedded(tmp_path: Path) -> FlaskClient:
    """The organization's app on an in-process chain with no contract deployed yet."""
    chain, book = EmbeddedChain(), DeploymentBook(None)
    return _organization(ChainLink(lambda: chain, lambda _: book, dev_account(0)), tmp_path)


def test_posts_without_the_session_token_are_refused(unreachable: FlaskClient, tmp_path: Path) -> None:
    for token in (None, "forged"):
        answer = _post(unreachable, "/api/deploy", token=token)
        assert answer.status_code == 403 and "CSRF" in answer.get_json()["error"]
    fresh = unreachable.application.test_client()  # a browser that never loaded a page has no token at all
    assert fresh.post("/api/rounds", data={TOKEN_KEY: ""}).status_code == 403
    assert _client_app(tmp_path).post("/api/register").status_code == 403


def _client_app(home: Path) -> FlaskClient:
    """A client's app (no chain call is needed by these tests) on four examples of classes 0, 1, 1, 9."""
    data = Dataset(np.zeros((4, 784), np.float32), np.array([0, 1, 1, 9]))
    link = ChainLink(EmbeddedChain, lambda _: DeploymentBook(None), dev_account(1))
    node = ClientNode(link, EmbeddedStore(home / "ipfs"), data, ClientState(home / "client"), ClientSettings(),
                      "four examples", log=lambda _: None)
    return client_app(node).test_client()


@pytest.mark.parametrize(("body", "message"), [
    ({"quorum": "abc"}, "quorum must be an integer, got 'abc'"),
    ({"quorum": 0}, "quorum must be between 1 and 10000"),
    ({"deadline_blocks": -5}, "deadline_blocks must be between 1"),
    ({"strategy": "bogus"}, "strategy must be one of fedavg"),
    ({"strategy": "trimmed-mean", "parameter": 0.7}, "trimmed-mean beta must be in [0, 0.5)"),
    ({"strategy": "fedprox", "parameter": "x"}, "parameter must be a number"),
])
def test_open_round_inputs_are_validated_before_anything_happens(unreachable: FlaskClient, body: dict,
                                                                 message: str) -> None:
    answer = _post(unreachable, "/api/rounds", body)
    assert answer.status_code == 400
    assert message in answer.get_json()["error"]


def test_client_settings_are_validated_and_kept(tmp_path: Path) -> None:
    app = _with_token(_client_app(tmp_path))
    assert "ewc_decay must be between 0 and 1" in _post(app, "/api/settings", {"ewc_decay": 2}).get_json()["error"]
    assert "fisher_mode must be one of" in _post(app, "/api/settings", {"fisher_mode": "x"}).get_json()["error"]
    assert _post(app, "/api/settings", {"ewc_lambda": "5", "mu": "0.1"}).status_code == 200
    restarted = _client_app(tmp_path).get("/api/status").get_json()["settings"]  # kept across a restart
    assert restarted["ewc_lambda"] == 5 and restarted["mu"] == 0.1
    summary = app.get("/api/data").get_json()
    assert summary["per_class"] == [1, 2, 0, 0, 0, 0, 0, 0, 0, 1] and summary["classes"] == 3


def test_an_unreachable_chain_is_one_clear_message(unreachable: FlaskClient) -> None:
    status = unreachable.get("/api/status").get_json()
    assert len(status["problems"]) == 1
    assert status["problems"][0].startswith("Chain unreachable: no Ethereum node answers at http://127.0.0.1:")
    page = unreachable.get("/").get_data(as_text=True)
    assert 'id="banner" class="banner" role="alert" >Chain unreachable' in page
    answer = _post(unreachable, "/api/deploy")
    assert answer.status_code == 503 and "no Ethereum node answers" in answer.get_json()["error"]
    assert "Traceback" not in answer.get_data(as_text=True)


def test_errors_are_readable_never_tracebacks(embedded: FlaskClient) -> None:
    answer = _post(embedded, "/api/rounds/current/aggregate")
    assert answer.status_code == 400 and "no FederatedLearning contract is deployed" in answer.get_json()["error"]
    assert _post(embedded, "/api/deploy").status_code == 200
    assert "already deployed" in _post(embedded, "/api/deploy").get_json()["error"]
    assert _post(embedded, "/api/rounds", {"quorum": 1, "deadline_blocks": 50}).status_code == 201
    refused = _post(embedded, "/api/rounds/current/aggregate")
    assert refused.status_code == 400 and "has 0 of its 1 required updates" in refused.get_json()["error"]
    again = _post(embedded, "/api/rounds", {"quorum": 1})
    assert again.status_code == 400 and "round 1 is still open" in again.get_json()["error"]
    assert embedded.get("/api/rounds/7").status_code == 404
    assert embedded.get("/rounds/7").status_code == 404 and embedded.get("/rounds/1").status_code == 200
    verify = _post(embedded, "/api/rounds/1/verify").get_json()
    assert verify["ok"] is False and "not finalized" in verify["message"]
    assert _post(embedded, "/api/rounds/current/abort").status_code == 200
    assert embedded.get("/api/rounds").get_json()["rounds"][0]["state"] == "aborted"


def test_a_plain_form_post_gets_a_page_with_a_flash_message(embedded: FlaskClient) -> None:
    answer = embedded.post("/api/rounds/current/abort", data={TOKEN_KEY: TOKEN},
                           headers={"Accept": "text/html", "Referer": "/"}, follow_redirects=True)
    assert answer.status_code == 200
    assert 'class="flash error">no FederatedLearning contract is deployed' in answer.get_data(as_text=True)
