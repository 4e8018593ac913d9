"""The organization's web interface: a dashboard, a page per round and the JSON API behind them."""

from organization.web.app import create_app
from organization.web.node import OrganizationNode

__all__ = ["OrganizationNode", "create_app"]
