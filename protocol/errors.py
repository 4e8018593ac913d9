"""Errors every front end shows as they are: the command line prints them as one line, the web
interfaces as a page or a JSON message. They live below both so that neither imports the other."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; shown as one line, without a traceback."""
