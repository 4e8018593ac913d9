"""The Flask app both services start from: shared templates and scripts, CSRF, readable errors."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Blueprint, Flask, flash, jsonify, redirect, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from webui import csrf
from webui.errors import readable, status_code

kit = Blueprint("webui", __name__, template_folder="templates", static_folder="static",
                static_url_path="/webui/static")


def make_app(import_name: str, *, role: str, port: int) -> Flask:
    """A Flask app for `role` ("organization" or "client") with the shared page kit installed.

    The session cookie is named after role and port: browsers share cookies between ports of
    one host, and two apps overwriting one cookie would invalidate each other's CSRF tokens.
    """
    app = Flask(import_name)
    app.secret_key = secrets.token_bytes(32)
    app.config.update(SESSION_COOKIE_NAME=f"fedchain-{role}-{port}", SESSION_COOKIE_SAMESITE="Strict",
                      SESSION_COOKIE_HTTPONLY=True)
    app.register_blueprint(kit)
    csrf.install(app)
    app.register_error_handler(Exception, _on_error)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # pages poll: no line per request
    return app


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
    else:
        message, status = readable(error), status_code(error)
    if wants_json():
        return jsonify(error=message), status
    if request.method == "POST":
        flash(message, "error")
        return redirect(request.referrer or "/")
    return render_template("webui/error.html", message=message, status=status), status
