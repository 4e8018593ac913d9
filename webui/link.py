"""The chain and the recorded contract, connected on demand.

A service's web interface must start, and say what is wrong, while Ganache is down or before
the contract is deployed; so nothing here connects until asked, and a failed connection is
retried on the next request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from eth_account.signers.local import LocalAccount

from chain.backends import Chain
from chain.contract import ContractNotFoundError, FederatedLearningContract
from chain.deployments import DeploymentBook, DeploymentNotFoundError
from chain.migrate import attach, deploy
from protocol.errors import UserError
from storage.hashing import cid_of_bytes
from storage.store import ContentStore
from webui.errors import readable, unreachable

NOT_DEPLOYED = "no FederatedLearning contract is deployed on this chain yet"


class ChainLink:
    """The chain, and the contract at `address` (`--contract`) or else the one recorded in the book."""

    def __init__(self, connect: Callable[[], Chain], book: Callable[[Chain], DeploymentBook],
                 account: LocalAccount, address: str | None = None) -> None:
        self._connect = connect
        self._book = book
        self.account = account
        self.address = address
        self._chain: Chain | None = None
        self._contract: FederatedLearningContract | None = None
        self._lock = threading.Lock()

    def chain(self) -> Chain:
        with self._lock:
            if self._chain is None:
                self._chain = self._connect()
            return self._chain

    def contract(self) -> FederatedLearningContract | None:
        """The deployed contract, or None while there is none on this chain."""
        if self._contract is None:
            chain = self.chain()
            try:
                if self.address:
                    self._contract = FederatedLearningContract(chain, self.address, self.account)
                else:
                    self._contract = attach(chain, self._book(chain), self.account)
            except (DeploymentNotFoundError, ContractNotFoundError):
                return None
        return self._contract

    def require_contract(self) -> FederatedLearningContract:
        contract = self.contract()
        if contract is None:
            if self.address:
                raise UserError(f"no contract at {self.address} (--contract) on this chain")
            raise UserError(f"{NOT_DEPLOYED}: the organization deploys it first")
        return contract

    def deploy(self, log: Callable[[str], None]) -> FederatedLearningContract:
        existing = self.contract()
        if self.address:
            raise UserError(f"this service is attached to --contract {self.address}: it deploys nothing")
        if existing is not None:
            raise UserError(f"the contract is already deployed at {existing.address}")
        chain = self.chain()
        self._contract = deploy(chain, self.account, self._book(chain), log=log)
        return self._contract

    def problem(self) -> str | None:
        """Why the chain cannot be used right now, if it cannot."""
        try:
            self.chain().web3.eth.block_number  # noqa: B018 - the cheapest call that proves the node answers
        except Exception as error:
            return unreachable(error, self._chain.name if self._chain else "the chain") or readable(error)
        return None


def store_problem(store: ContentStore) -> str | None:
    """Why IPFS cannot be used right now: asks the store about a CID it need not have."""
    try:
        store.has(cid_of_bytes(b""))
    except Exception as error:
        return unreachable(error) or readable(error)
    return None
