"""Routes of a client's web interface: one page (filled by polling) and the JSON API behind it."""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template
from flask.typing import ResponseReturnValue

from client.web.node import ClientNode
from webui import make_app
from webui.app import done
from webui.explorer_routes import install_explorer
from webui.forms import choice, inputs, number, optional_number, switch

FISHER_MODES = ("sampled", "true")


def create_app(node: ClientNode, port: int = 0, host: str = "127.0.0.1") -> Flask:
    app = make_app(__name__, role="client", port=port, host=host)
    install_explorer(app, node.explorer, node.problems)

    @app.get("/")
    def page() -> str:
        return render_template("client.html", problems=node.problems(), settings=node.settings,
                               fisher_modes=FISHER_MODES)

    @app.get("/api/status")
    def status() -> Response:
        return jsonify(node.status())

    @app.get("/api/data")
    def data() -> Response:
        return jsonify(node.data_summary())

    @app.get("/api/history")
    def history() -> Response:
        return jsonify(history=node.history())

    @app.post("/api/register")
    def register() -> ResponseReturnValue:
        return done(node.register())

    @app.post("/api/train")
    def train() -> ResponseReturnValue:
        job = node.train()
        return done(job.message, 202, job=job.to_json())

    @app.post("/api/consolidate")
    def consolidate() -> ResponseReturnValue:
        return done(node.request_consolidation())

    @app.post("/api/auto")
    def auto() -> ResponseReturnValue:
        return done(node.set_auto(switch(inputs(), "enabled")))

    @app.post("/api/settings")
    def settings() -> ResponseReturnValue:
        values, current = inputs(), node.settings
        changes = {
            "ewc_lambda": number(values, "ewc_lambda", float, 0, 1e6, current.ewc_lambda),
            "ewc_decay": number(values, "ewc_decay", float, 0, 1, current.ewc_decay),
            "fisher_mode": choice(values, "fisher_mode", FISHER_MODES, current.fisher_mode),
            "fisher_samples": number(values, "fisher_samples", int, 1, 100_000, current.fisher_samples),
            "mu": optional_number(values, "mu", 0, 1e3),
        }
        return done(node.update_settings(changes))

    return app
