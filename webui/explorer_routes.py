"""The explorer's pages and JSON API, installed in both web interfaces: rounds, models, transactions,
clients, verification and the favicon. Pages are shells that their script fills from the API."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from flask import Flask, Response, abort, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from protocol.verification import verify_round
from webui.app import done
from webui.errors import InvalidInput, log, readable, unreachable
from webui.explorer import CLIENTS_PER_PAGE, MAX_CLIENTS_PER_PAGE, Explorer

_TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")


def known(look_up: Callable[[], object]) -> None:
    """A page for something the chain or IPFS does not know is a 404 (`look_up` raises NotFound);
    while they do not answer, the page is served and shows what is remembered."""
    try:
        look_up()
    except Exception as error:
        if unreachable(error) is None:
            raise


def install_explorer(app: Flask, explorer: Explorer, problems: Callable[[], list[str]]) -> None:
    def page(template: str, status: int = 200, **values: object) -> ResponseReturnValue:
        return render_template(f"webui/{template}", problems=problems(), **values), status

    @app.get("/favicon.ico")
    def favicon() -> ResponseReturnValue:
        return redirect(url_for("webui.static", filename="favicon.svg"), 301)

    @app.get("/rounds/<int:round_id>")
    def round_page(round_id: int) -> ResponseReturnValue:
        def look_up() -> None:
            if not explorer.round_exists(round_id):
                abort(404, f"round {round_id} does not exist on this contract")

        known(look_up)
        return page("round.html", round_id=round_id)

    @app.get("/api/rounds")
    def rounds() -> Response:
        return jsonify(rounds=explorer.rounds())

    @app.get("/api/rounds/<int:round_id>")
    def round_detail(round_id: int) -> Response:
        return jsonify(explorer.round_detail(round_id))

    @app.post("/api/rounds/<int:round_id>/verify")
    def verify(round_id: int) -> ResponseReturnValue:
        verification = verify_round(explorer.contract(), explorer.store, round_id)
        return done(verification.message, ok=verification.ok, verification=verification.to_json())

    @app.get("/models/<cid>")
    def model_page(cid: str) -> ResponseReturnValue:
        known(lambda: explorer.model(cid))
        return page("model.html", cid=cid)

    @app.get("/api/models/<cid>")
    def model(cid: str) -> Response:
        return jsonify(explorer.model(cid))

    @app.get("/models/<cid>/download")
    def download(cid: str) -> Response:
        """The exact file, if within the task's model size cap (413 otherwise, before reading it),
        streamed as it is read; its length is announced, so a download cut short shows as such."""
        content = explorer.model_download(cid)
        return Response(_ended_short_on_error(content.chunks, cid), mimetype="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{cid}.safetensors"',
                                 "Content-Length": str(content.size)})

    @app.get("/tx/<tx_hash>")
    def transaction_page(tx_hash: str) -> ResponseReturnValue:
        if not _TX_HASH.match(tx_hash):
            abort(404, f"{tx_hash!r} is not a transaction hash")
        known(lambda: explorer.transaction(tx_hash))
        return page("tx.html", tx_hash=tx_hash)

    @app.get("/api/tx/<tx_hash>")
    def transaction(tx_hash: str) -> Response:
        if not _TX_HASH.match(tx_hash):
            abort(404, f"{tx_hash!r} is not a transaction hash")
        return jsonify(explorer.transaction(tx_hash))

    @app.get("/clients/<address>")
    def client_page(address: str) -> ResponseReturnValue:
        known(lambda: explorer.client(address))
        return page("address.html", address=address)

    @app.get("/api/clients")
    def clients() -> Response:
        """?page=N&per_page=M (default 50): the page's rows, and the total to page through."""
        page = _positive(request.args.get("page", "1"), "page", None)
        per_page = _positive(request.args.get("per_page", str(CLIENTS_PER_PAGE)), "per_page", MAX_CLIENTS_PER_PAGE)
        return jsonify(explorer.clients(page, per_page))

    @app.get("/api/clients/<address>")
    def client(address: str) -> Response:
        return jsonify(explorer.client(address))


def _ended_short_on_error(chunks: Iterator[bytes], cid: str) -> Iterator[bytes]:
    """`chunks`, ended at the first error with one line in the log: once the status is sent, an error
    page would land inside the file, so the reader is left with fewer bytes than announced."""
    try:
        yield from chunks
    except Exception as error:
        log.warning("download of %s stopped: %s", cid, readable(error))


def _positive(text: str, name: str, maximum: int | None) -> int:
    """A positive integer query parameter (at most `maximum`), else InvalidInput naming it."""
    if not text.isdigit() or int(text) < 1 or (maximum is not None and int(text) > maximum):
        bound = f" up to {maximum}" if maximum is not None else ""
        raise InvalidInput(f"{name} must be a whole number from 1{bound}, got {text[:20]!r}")
    return int(text)
