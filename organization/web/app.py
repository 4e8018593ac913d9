"""Routes of the organization's web interface: HTML pages (filled by polling) and the JSON API."""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template
from flask.typing import ResponseReturnValue

from mlprocessor.aggregation import STRATEGY_NAMES
from organization.web.node import STRATEGY_PARAMETER, OrganizationNode, strategy_spec
from webui import make_app
from webui.app import done
from webui.forms import choice, inputs, number, optional_number, switch

MAX_QUORUM = 10_000
MAX_DEADLINE_BLOCKS = 1_000_000


def create_app(node: OrganizationNode, port: int = 0) -> Flask:
    app = make_app(__name__, role="organization", port=port)

    @app.get("/")
    def dashboard() -> str:
        return render_template("dashboard.html", problems=node.problems(), defaults=node.defaults(),
                               strategies=STRATEGY_NAMES, parameters=STRATEGY_PARAMETER)

    @app.get("/rounds/<int:round_id>")
    def round_page(round_id: int) -> str:
        return render_template("round.html", problems=node.problems(), round_id=round_id)

    @app.get("/api/status")
    def status() -> Response:
        return jsonify(node.status())

    @app.get("/api/rounds")
    def rounds() -> Response:
        return jsonify(rounds=node.rounds())

    @app.get("/api/rounds/<int:round_id>")
    def round_detail(round_id: int) -> Response:
        return jsonify(node.round_detail(round_id))

    @app.get("/api/clients")
    def clients() -> Response:
        return jsonify(clients=node.clients())

    @app.post("/api/deploy")
    def deploy() -> ResponseReturnValue:
        return done(node.deploy())

    @app.post("/api/initial-model")
    def initial_model() -> ResponseReturnValue:
        return done(node.publish_initial_model())

    @app.post("/api/rounds")
    def open_round() -> ResponseReturnValue:
        values, defaults = inputs(), node.defaults()
        deadline = number(values, "deadline_blocks", int, 1, MAX_DEADLINE_BLOCKS, defaults.deadline_blocks)
        quorum = number(values, "quorum", int, 1, MAX_QUORUM, defaults.quorum)
        name = choice(values, "strategy", STRATEGY_NAMES, defaults.strategy.name)
        spec = strategy_spec(name, optional_number(values, "parameter", 0, 1_000))
        return done(node.open_round(deadline, quorum, spec), 201)

    @app.post("/api/rounds/current/aggregate")
    def aggregate() -> ResponseReturnValue:
        job = node.aggregate()
        return done(job.message, 202, job=job.to_json())

    @app.post("/api/rounds/current/abort")
    def abort() -> ResponseReturnValue:
        return done(node.abort())

    @app.post("/api/rounds/<int:round_id>/verify")
    def verify(round_id: int) -> ResponseReturnValue:
        verification = node.verify(round_id)
        return done(verification.message, ok=verification.ok, verification=verification.to_json())

    @app.post("/api/auto")
    def auto() -> ResponseReturnValue:
        return done(node.set_auto(switch(inputs(), "enabled")))

    return app
