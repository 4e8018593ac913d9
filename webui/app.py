"""The Flask app both services start from: shared templates and scripts, CSRF, readable errors."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Blueprint, Flask, abort, flash, jsonify, redirect, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from webui import csrf
from webui.errors import readable, status_code

kit = Blueprint("webui", __name__, template_folder="templates", static_folder="static",
                static_url_path="/webui/static")


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
ANY_ADDRESS = ("0.0.0.0", "::", "")
WRONG_HOST = 421  # Misdirected Request


def allowed_hosts(host: str, port: int) -> frozenset[str] | None:
    """The Host headers this app answers: the address it serves (all loopback names when it serves
    loopback). None (any) only when it listens on every address, where its names are unknown.
    An app not bound to a port (port 0: tests, embedding) also answers Flask's test host `localhost`."""
    if host in ANY_ADDRESS:
        return None
    names = LOOPBACK_NAMES if host in ("127.0.0.1", "localhost", "::1") else (host,)
    allowed = {f"{name}:{port}" for name in names}
    if port == 0:
        allowed.add("localhost")
    return frozenset(allowed)


def make_app(import_name: str, *, role: str, port: int, host: str = "127.0.0.1") -> Flask:
    """A Flask app for `role` ("organization" or "client") with the shared page kit installed.

    The session cookie is named after role and port: browsers share cookies between ports of
    one host, and two apps overwriting one cookie would invalidate each other's CSRF tokens.
    Requests naming another Host are refused before anything else (DNS rebinding: a page of
    attacker.example whose name resolves to 127.0.0.1 must not read pages or CSRF tokens).
    """
    app = Flask(import_name)
    hosts = allowed_hosts(host, port)
    if hosts is not None:
        app.before_request(lambda: _check_host(hosts))
    app.secret_key = secrets.token_bytes(32)
    app.config.update(SESSION_COOKIE_NAME=f"fedchain-{role}-{port}", SESSION_COOKIE_SAMESITE="Strict",
                      SESSION_COOKIE_HTTPONLY=True)
    app.register_blueprint(kit)
    csrf.install(app)
    app.register_error_handler(Exception, _on_error)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # pages poll: no line per request
    return app


def _check_host(hosts: frozenset[str]) -> None:
    if request.host.lower() not in hosts:
        abort(WRONG_HOST, f"this service answers only requests for {sorted(hosts)[0]}, not {request.host!r}")


def wants_json() -> bool:
    """API calls (fetch, curl, tests) get JSON; a browser's plain form post gets a page back."""
    if request.path.startswith("/api/"):
        return request.accept_mimetypes.best_match(["application/json", "text/html"]) != "text/html"
    return False


def done(message: str, status: int = 200, **data: Any) -> ResponseReturnValue:
    """The answer to an action: JSON, or a flash message on the page the form came from."""
    if wants_json():
        return jsonify(message=message, **data), status
    flash(message, "error" if data.get("ok") is False else "ok")
    return redirect(request.referrer or "/")


def _on_error(error: Exception) -> ResponseReturnValue:
    if isinstance(error, HTTPException):
        message, status = error.description or error.name, error.code or 500
        if status == WRONG_HOST:  # plain text: no page, no session, no CSRF token for a foreign name
            return message + "\n", status, {"Content-Type": "text/plain; charset=utf-8"}
    else:
        message, status = readable(error), status_code(error)
    if wants_json():
        return jsonify(error=message), status
    if request.method == "POST":
        flash(message, "error")
        return redirect(request.referrer or "/")
    return render_template("webui/error.html", message=message, status=status), status
