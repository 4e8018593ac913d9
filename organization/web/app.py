"""Routes of the organization's web interface: HTML pages (filled by polling) and the JSON API."""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template
from flask.typing import ResponseReturnValue

from mlprocessor.aggregation import STRATEGY_NAMES
from organization.secure import MIN_PARTICIPANTS, SecureSettings
from organization.web.node import STRATEGY_PARAMETER, OrganizationNode, strategy_spec
from webui import make_app
from webui.app import done
from webui.errors import InvalidInput
from webui.explorer_routes import install_explorer
from webui.forms import address, choice, inputs, number, optional_number, switch

MAX_QUORUM = 10_000
MAX_DEADLINE_BLOCKS = 1_000_000
MAX_PHASE_BLOCKS = 100_000
MAX_PARTICIPANTS = 10_000  # the contract's MAX_SECURE_PARTICIPANTS
MAX_SAMPLES = 2**32 - 1  # a uint32 on-chain


def create_app(node: OrganizationNode, port: int = 0, host: str = "127.0.0.1") -> Flask:
    app = make_app(__name__, role="organization", port=port, host=host)
    install_explorer(app, node.explorer, node.problems)

    @app.get("/")
    def dashboard() -> str:
        return render_template("dashboard.html", problems=node.problems(), defaults=node.defaults(),
                               secure=node.secure_defaults(), strategies=STRATEGY_NAMES,
                               parameters=STRATEGY_PARAMETER)

    @app.get("/api/status")
    def status() -> Response:
        return jsonify(node.status())

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

    @app.post("/api/secure-rounds")
    def open_secure_round() -> ResponseReturnValue:
        values, defaults, secure = inputs(), node.defaults(), node.secure_defaults()
        phase_blocks = number(values, "phase_blocks", int, 1, MAX_PHASE_BLOCKS, secure.phase_blocks)
        minimum = number(values, "min_participants", int, MIN_PARTICIPANTS, MAX_PARTICIPANTS, secure.min_participants)
        threshold = number(values, "threshold", int, 0, MAX_PARTICIPANTS, secure.threshold)
        max_samples = number(values, "max_samples", int, 1, MAX_SAMPLES, defaults.max_samples)
        try:
            settings = SecureSettings(phase_blocks, minimum, threshold)
        except ValueError as error:
            raise InvalidInput(str(error)) from None
        return done(node.open_secure_round(settings, max_samples), 201)

    @app.post("/api/rounds/current/aggregate")
    def aggregate() -> ResponseReturnValue:
        job = node.aggregate()
        return done(job.message, 202, job=job.to_json())

    @app.post("/api/rounds/current/abort")
    def abort() -> ResponseReturnValue:
        return done(node.abort())

    @app.post("/api/clients/allow")
    def allow_client() -> ResponseReturnValue:
        return done(node.allow_client(address(inputs(), "address")))

    @app.post("/api/clients/remove")
    def remove_client() -> ResponseReturnValue:
        return done(node.remove_client(address(inputs(), "address")))

    @app.post("/api/registration")
    def registration() -> ResponseReturnValue:
        return done(node.set_registration_open(switch(inputs(), "open")))

    @app.post("/api/auto")
    def auto() -> ResponseReturnValue:
        return done(node.set_auto(switch(inputs(), "enabled")))

    return app
