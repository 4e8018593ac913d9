"""Turn any exception into one sentence a user can act on, with the HTTP status that fits it.

The browser never sees a traceback: expected failures (a contract refusal, a bad input, an
unreachable chain) keep their message; anything else is logged in full and summarized.
"""

from __future__ import annotations

import logging

import requests

from chain.compiler import CompilationError, CompilerNotFoundError
from chain.errors import AccountProblem, ContractRevert
from chain.nodes import ChainUnavailableError
from protocol.errors import UserError
from storage.store import ContentNotFoundError, ContentTooLargeError, StorageError, StoreUnavailableError

log = logging.getLogger("webui")


class InvalidInput(ValueError):
    """A form field or JSON value the user must correct; the message names the field."""


class Busy(RuntimeError):
    """Another background task is running; the user should wait for it."""


CHAIN_DOWN: tuple[type[BaseException], ...] = (requests.ConnectionError, requests.Timeout)
_EXPECTED: tuple[type[BaseException], ...] = (
    UserError, ContractRevert, AccountProblem, StorageError, ValueError, LookupError, FileNotFoundError,
    CompilationError, CompilerNotFoundError, Busy,
)


def unreachable(error: BaseException, chain_name: str = "the chain") -> str | None:
    """The outage message when `error` means the chain or IPFS does not answer, else None."""
    if isinstance(error, ChainUnavailableError | StoreUnavailableError):
        return str(error)
    if isinstance(error, CHAIN_DOWN):
        return f"no Ethereum node answers at {chain_name} (connection refused or timed out): is Ganache running?"
    return None


def readable(error: BaseException) -> str:
    """One line for the user; unexpected errors are logged with their traceback on the server."""
    outage = unreachable(error)
    if outage:
        return outage
    if isinstance(error, _EXPECTED):
        return str(error) or type(error).__name__
    log.error("unexpected error", exc_info=error)
    return "unexpected error in the service: its log has the details"  # never internals in a response


def status_code(error: BaseException) -> int:
    if unreachable(error):
        return 503
    if isinstance(error, Busy):
        return 409
    if isinstance(error, ContentTooLargeError):
        return 413
    if isinstance(error, LookupError | ContentNotFoundError):
        return 404
    return 400 if isinstance(error, _EXPECTED) else 500
