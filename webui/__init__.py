"""What the organization's and the client's web interfaces share: app setup, CSRF, errors, jobs, the page kit."""

from webui.app import make_app
from webui.errors import Busy, InvalidInput

__all__ = ["Busy", "InvalidInput", "make_app"]
