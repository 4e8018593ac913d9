"""CSRF protection: a random token per browser session, required on every POST.

Pages carry the token in a meta tag (for fetch, sent as a header) and in each form (for
plain posts); another site can make the browser post, but cannot read the token.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, abort, request, session
from markupsafe import Markup

TOKEN_KEY = "csrf_token"
HEADER = "X-CSRF-Token"
REJECTED = "the request carried no valid CSRF token (the page may be stale): reload the page and try again"


def csrf_token() -> str:
    """This session's token, created on first use."""
    if TOKEN_KEY not in session:
        session[TOKEN_KEY] = secrets.token_urlsafe(32)
    return session[TOKEN_KEY]


def csrf_field() -> Markup:
    """The hidden form input that carries the token in a plain (script-less) form post."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(TOKEN_KEY, csrf_token())


def _check() -> None:
    if request.method != "POST":
        return
    sent = request.headers.get(HEADER) or request.form.get(TOKEN_KEY) or ""
    expected = session.get(TOKEN_KEY, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(403, REJECTED)


def install(app: Flask) -> None:
    app.before_request(_check)
    app.jinja_env.globals.update(csrf_token=csrf_token, csrf_field=csrf_field)
