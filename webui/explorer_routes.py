"""The explorer's pages and JSON API, installed in both web interfaces: rounds, models, transactions,
clients, verification and the favicon. Pages are shells that their script fills from the API."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask, Response, abort, jsonify, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from protocol.verification import verify_round
from webui.app import done
from webui.errors import unreachable
from webui.explorer import Explorer

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
        return Response(explorer.model_bytes(cid), mimetype="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{cid}.safetensors"'})

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
        return jsonify(clients=explorer.clients())

    @app.get("/api/clients/<address>")
    def client(address: str) -> Response:
        return jsonify(explorer.client(address))
