"""Which failures a long-running service outlives, and how it reports them in one line.

A node that drops the connection, a transaction reverted when mined (someone else moved the
round on), a daemon restarting: the headless organization and client log one line and retry.
"""

from __future__ import annotations

from web3.exceptions import Web3Exception

from chain.errors import AccountProblem, ContractRevert
from chain.logs import LogQueryError
from chain.transactions import TransactionFailedError
from storage.store import StorageError


class RoundSettingsError(ValueError):
    """Settings no round can work with (e.g. krum's f needs more updates than the quorum): not
    transient, so the service refuses them instead of retrying."""


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ContractRevert, TransactionFailedError, StorageError, Web3Exception, OSError, TimeoutError,
    AccountProblem,  # unfunded: the service says what to do on each try, and goes on once funded
    LogQueryError,  # a provider rate-limiting for long
)


def one_line(error: BaseException, limit: int = 300) -> str:
    """`Kind: message`, first line only, cut at `limit` characters."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}"[:limit]
