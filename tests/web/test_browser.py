"""A whole round clicked through in a real browser: the organization and two clients as real
processes on Ganache, each with its own web interface on a free port, sharing one --home."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.accounts import dev_account
from chain.backends import GanacheChain
from chain.contract import RoundState
from chain.deployments import DeploymentBook
from chain.migrate import attach
from chain.paths import REPO_ROOT
from tests.processes import Service
from tests.support import free_port

pytestmark = pytest.mark.costly  # a minute or so of end-to-end runs: scheduled first (tests/conftest.py)

# The README's screenshots are refreshed only on request, so a test run leaves the work tree clean:
# FEDCHAIN_UPDATE_SCREENSHOTS=1 .venv/bin/python -m pytest tests/web/test_browser.py
DOCS_SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
STEP_MS = 60_000
WIDEST_ELEMENT = """[...document.querySelectorAll('body *')]
  .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth)
  .map((e) => `${e.tagName}#${e.id}.${e.className.baseVal ?? e.className}`).slice(-5).join(' ')"""


def _start(role: str, ganache: GanacheChain, home: Path, *extra: str) -> tuple[Service, str]:
    port = free_port()
    service = Service(role, "--chain", ganache.url, "--home", str(home), "--port", str(port), "--poll", "0.3",
                      *extra)
    return service, f"http://127.0.0.1:{port}"


@pytest.fixture
def apps(ganache: GanacheChain, tmp_path: Path) -> Iterator[dict[str, str]]:
    started = {
        "organization": _start("organization", ganache, tmp_path, "--model", "2nn", "--quorum", "2",
                               "--window-blocks", "0"),
        "client1": _start("client", ganache, tmp_path, "--account", "1", "--num-partitions", "8"),
        "client2": _start("client", ganache, tmp_path, "--account", "2", "--num-partitions", "8"),
    }
    try:
        for service, _ in started.values():
            service.wait_for(r"web interface on http://127\.0\.0\.1:\d+", timeout=180)
        yield {name: url for name, (_, url) in started.items()}
    finally:
        for service, _ in started.values():
            service.stop()


def _click_and_expect(page, button: str, flash: str) -> None:
    page.click(button)
    page.locator("#flash .flash", has_text=re.compile(flash)).first.wait_for(timeout=STEP_MS)


def test_a_round_clicked_through_in_the_browser(browser, apps, ganache, tmp_path) -> None:
    screenshots = DOCS_SCREENSHOTS if os.environ.get("FEDCHAIN_UPDATE_SCREENSHOTS") else tmp_path / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(STEP_MS)
    organization, *clients = (context.new_page() for _ in range(3))

    organization.goto(apps["organization"])
    organization.wait_for_function("!document.getElementById('deploy').disabled")
    for button in ("#open-round", "#aggregate", "#abort", "#publish-initial", "#allow-client"):
        assert organization.is_disabled(button), f"{button} is enabled before a contract exists"
    _click_and_expect(organization, "#deploy", "deployed FederatedLearning at 0x")
    organization.wait_for_function("document.getElementById('contract-address').textContent.startsWith('0x')")
    organization.wait_for_function("!document.getElementById('open-round').disabled")
    assert organization.is_disabled("#deploy") and organization.is_disabled("#abort")

    for page, name in zip(clients, ("client1", "client2"), strict=True):
        page.goto(apps[name])
        page.wait_for_function("!document.getElementById('register').disabled")
        _click_and_expect(page, "#register", "registered")
        page.locator("#registration", has_text="registered as client").wait_for()

    organization.fill("input[name=deadline_blocks]", "500")
    organization.fill("input[name=quorum]", "2")
    organization.select_option("select[name=strategy]", "fedavg")
    _click_and_expect(organization, "#open-round", "round 1: opened")
    organization.locator("#round-id", has_text="1").wait_for()

    for page in clients:
        page.wait_for_function("!document.getElementById('train').disabled")
        _click_and_expect(page, "#train", "training on")
    for page in clients:
        page.locator("#job", has_text="submitted").wait_for()
        page.locator("#history tbody tr[data-round='1'] .update-cid", has_text="Qm").wait_for()
    clients[0].screenshot(path=str(screenshots / "client.png"), full_page=True)

    organization.locator("#round-submissions", has_text="2 of quorum 2").wait_for()
    _click_and_expect(organization, "#aggregate", "aggregating round 1")
    organization.locator("#job", has_text="finalized").wait_for()

    contract = attach(ganache, DeploymentBook(tmp_path / "deployments.json"), dev_account(0))
    onchain = contract.round(1)
    assert onchain.state is RoundState.FINALIZED
    row = organization.locator("#history tbody tr[data-round='1']")
    row.locator(".result-cid", has_text=str(onchain.result_cid)).wait_for()
    assert row.locator(".state").inner_text() == "finalized"
    assert row.locator(".accepted").inner_text() == "2" and row.locator(".rejected").inner_text() == "0"
    assert re.fullmatch(r"\d+\.\d%", row.locator(".accuracy").inner_text())
    organization.locator("#accuracy-chart circle").wait_for()
    organization.locator("#clients tbody tr").nth(1).wait_for()
    organization.screenshot(path=str(screenshots / "organization-dashboard.png"), full_page=True)

    organization.click("#history tbody tr[data-round='1'] a.round")
    organization.wait_for_url(f"{apps['organization']}/rounds/1")
    organization.locator("#result-cid", has_text=str(onchain.result_cid)).wait_for()
    assert organization.locator("#submissions tbody tr .decision", has_text="accepted").count() == 2
    organization.locator("#submissions tbody tr .share", has_text="%").first.wait_for()
    assert re.fullmatch(r"-?\d\.\d{3}", organization.locator("#submissions tbody tr .cosine").first.inner_text())
    organization.click("#verify")
    verdict = organization.locator("#verification.ok", has_text="verified")
    verdict.wait_for()
    assert str(onchain.result_cid) in verdict.inner_text()
    organization.screenshot(path=str(screenshots / "round.png"), full_page=True)
    _walk_the_explorer(organization, apps["organization"], onchain.result_cid)
    _abort_asks_first(organization, apps["organization"])
    _fits_a_phone(browser, [apps["organization"], f"{apps['organization']}/rounds/1", apps["client1"]])
    context.close()


def _walk_the_explorer(page, base: str, result_cid) -> None:
    """From the round page: a model, a transaction and a client, each by its link."""
    page.click("#submissions tbody tr[data-index='0'] .update-cid a")
    page.wait_for_url(re.compile(rf"{base}/models/Qm\w+"))
    page.locator("#tensors tbody tr", has_text="fc1.weight").locator(".shape", has_text="[200, 784]").wait_for()
    page.locator("#kind", has_text="update").wait_for()
    assert page.get_attribute("#download", "href").endswith("/download")
    page.click("#base a")  # the update's base model
    page.locator("#kind", has_text="model").wait_for()
    page.go_back()
    page.go_back()
    page.click("#submissions tbody tr[data-index='0'] td:last-child a")
    page.wait_for_url(re.compile(rf"{base}/tx/0x[0-9a-f]{{64}}"))
    page.locator("#call", has_text="submitUpdate").wait_for()
    page.locator("#events tbody tr .event", has_text="UpdateSubmitted").wait_for()
    page.locator("#fee", has_text="ETH").wait_for()
    page.click("#from a")
    page.wait_for_url(re.compile(rf"{base}/clients/0x[0-9a-fA-F]{{40}}"))
    row = page.locator("#submissions tbody tr[data-round='1']")
    row.locator(".decision", has_text="accepted").wait_for()
    row.locator(".update-cid a").wait_for()
    page.goto(f"{base}/rounds/1")
    page.click("#result-cid a")
    page.locator("#extra tbody tr", has_text="test_accuracy").wait_for()
    page.locator("h2", has_text=str(result_cid)).wait_for()
    assert page.goto(f"{base}/rounds/99").status == 404


def _abort_asks_first(page, base: str) -> None:
    """Abort asks before it acts: dismissed, nothing happens; accepted, the round is aborted and charted,
    and its message expires (the page's clock jumps past a message's 8 s instead of the test waiting)."""
    page.clock.install()  # time still flows; the page's timers run on a clock the test can move
    page.goto(base)
    page.wait_for_function("!document.getElementById('open-round').disabled")
    _click_and_expect(page, "#open-round", "round 2: opened")
    page.wait_for_function("!document.getElementById('abort').disabled")
    aborts: list[str] = []  # requests to abort, in the order the page sends them
    page.on("request", lambda request: aborts.append(request.method)
            if request.url.endswith("/api/rounds/current/abort") else None)
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#abort")
    assert page.locator("#round-id", has_text="2").count() == 1
    page.once("dialog", lambda dialog: dialog.accept())
    _click_and_expect(page, "#abort", "round 2 aborted")
    assert aborts == ["POST"]  # only the accepted click's: a dismissed one would have been sent before it
    page.locator("#accuracy-chart .aborted").wait_for()
    page.locator("#loss-chart circle").wait_for()
    page.clock.fast_forward("00:09")
    page.locator("#flash .flash", has_text="round 2 aborted").wait_for(state="detached")


def _fits_a_phone(browser, urls: list[str]) -> None:
    """390 px wide: nothing scrolls sideways (wide tables scroll inside their card)."""
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    page = phone.new_page()
    for url in urls:
        page.goto(url, wait_until="networkidle")  # the page's first refresh answered, before its next poll
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        widest = page.evaluate(WIDEST_ELEMENT)
        assert overflow <= 0, f"{url} scrolls sideways by {overflow} px at 390 px; widest: {widest}"
    phone.close()
