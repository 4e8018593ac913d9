"""A client's web interface: its account, data, the current round, training and its history."""

from client.web.app import create_app
from client.web.node import ClientNode

__all__ = ["ClientNode", "create_app"]
