"""One interface, four chains: the in-process EVM, a local Ganache or Anvil, and any JSON-RPC node.

`connect(spec, home)` turns the `--chain` option into a connected `Chain`; the local nodes it may
start on demand (Ganache, Anvil) are processes of chain/nodes.py.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from eth_account.signers.local import LocalAccount
from eth_utils import to_canonical_address
from web3 import Web3
from web3.types import RPCEndpoint

from chain.accounts import (
    DEV_CHAIN_IDS,
    DEV_HD_PATH,
    DEV_MNEMONIC,
    KEY_ENVIRONMENT_VARIABLE,
    DevKeysRefusedError,
    dev_accounts,
)
from chain.nodes import (
    ANVIL_DEFAULT_PORT,
    GANACHE_CHAIN_ID,
    GANACHE_DEFAULT_PORT,
    ChainUnavailableError,
    anvil_executable,
    ensure_local_node,
    free_port,
    ganache_url,
    start_anvil,
)

RPC_TIMEOUT_SECONDS = 10
# --chain name of a local node -> (environment variable overriding its port, its default port)
LOCAL_NODES: dict[str, tuple[str, int]] = {
    "ganache": ("FEDCHAIN_GANACHE_PORT", GANACHE_DEFAULT_PORT),
    "anvil": ("FEDCHAIN_ANVIL_PORT", ANVIL_DEFAULT_PORT),
}


class InvalidChainSpecError(ValueError):
    """The --chain value is none of the accepted forms."""


class Chain(ABC):
    """A connected chain: a Web3 instance, a human name, and the dev accounts it funds."""

    name: str

    @property
    @abstractmethod
    def web3(self) -> Web3: ...

    @property
    def persistent(self) -> bool:
        """Whether deployments outlive this process (false only for the in-process EVM)."""
        return True

    @property
    def endpoint(self) -> str | None:
        """The JSON-RPC URL other processes reach this chain at; None for the in-process EVM."""
        return None

    @property
    def funded_accounts(self) -> list[LocalAccount]:
        """Accounts with ether to spend; empty on a chain we do not control."""
        return []

    def mine_blocks(self, count: int = 1) -> None:
        """Advance the block number (dev chains only): deadlines are block numbers."""
        raise NotImplementedError(f"{self.name} does not mine blocks on request")

    def tick(self) -> None:
        """Called while waiting on a deadline. Dev chains mine a block only when a transaction
        arrives, so an idle one would never reach a deadline: they mine an empty block here.
        A real network has its own clock and does nothing."""
        return None


def is_dev_chain(chain: Chain) -> bool:
    """The in-process EVM, or a node with a dev chain id: where the public dev keys may sign."""
    return not chain.persistent or chain.web3.eth.chain_id in DEV_CHAIN_IDS


def require_dev_chain(chain: Chain) -> None:
    """Refuse to let the dev mnemonic's accounts sign on any other chain: their keys are public."""
    if not is_dev_chain(chain):
        raise DevKeysRefusedError(
            f"{chain.name} has chain id {chain.web3.eth.chain_id}, not a dev chain "
            f"({', '.join(map(str, sorted(DEV_CHAIN_IDS)))}), and the dev mnemonic's keys are public: "
            f"sign with --key-file PATH or ${KEY_ENVIRONMENT_VARIABLE}, or pass --allow-dev-keys if you mean it"
        )


class EmbeddedChain(Chain):
    """The in-process EVM of eth-tester + py-evm: nothing to install, gone when the process ends."""

    def __init__(self, extra_accounts: Sequence[LocalAccount] = ()) -> None:
        """The dev accounts, plus `extra_accounts`, start with ether (1,000,000 each)."""
        from eth_tester import EthereumTester, PyEVMBackend  # py-evm: 0.3 s of imports only this chain needs
        from eth_tester.backends.pyevm.main import get_default_account_state

        from chain.embedded_gas import one_pass_gas_estimate
        from chain.embedded_provider import EmbeddedProvider

        self._accounts = dev_accounts() + list(extra_accounts)
        genesis_state = {
            to_canonical_address(account.address): get_default_account_state() for account in self._accounts
        }
        backend = PyEVMBackend(genesis_state=genesis_state, mnemonic=DEV_MNEMONIC, hd_path=DEV_HD_PATH)
        backend.chain.gas_estimator = one_pass_gas_estimate
        self._tester = EthereumTester(backend)
        self._lock = threading.RLock()
        self._provider = EmbeddedProvider(self._tester, self._lock)
        self._web3 = Web3(self._provider)
        self.name = "embedded EVM"

    @property
    def web3(self) -> Web3:
        return self._web3

    @property
    def persistent(self) -> bool:
        return False

    @property
    def funded_accounts(self) -> list[LocalAccount]:
        return list(self._accounts)

    def mine_blocks(self, count: int = 1) -> None:
        with self._lock:
            self._tester.mine_blocks(count)
            self._provider.chain_changed()

    def tick(self) -> None:
        self.mine_blocks(1)


@dataclass
class RpcChain(Chain):
    """Any Ethereum JSON-RPC endpoint over HTTP; transactions are signed locally."""

    url: str
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = self.url
        # web3 asks the node's chain id before every call and transaction it validates (a third of a
        # client's requests in a round); a connection never changes chains, so it is asked once
        provider = Web3.HTTPProvider(self.url, request_kwargs={"timeout": RPC_TIMEOUT_SECONDS},
                                     cache_allowed_requests=True, cacheable_requests={RPCEndpoint("eth_chainId")})
        self._web3 = Web3(provider)
        try:
            self._web3.eth.chain_id  # noqa: B018 - the cheapest call that proves the node answers
        except (requests.ConnectionError, requests.Timeout, OSError) as error:
            raise ChainUnavailableError(f"no Ethereum node answers at {self.url} ({type(error).__name__})") from None

    @property
    def web3(self) -> Web3:
        return self._web3

    @property
    def endpoint(self) -> str | None:
        return self.url


class GanacheChain(RpcChain):
    """A local dev node (Ganache of `run.py chain`, or Anvil): deterministic accounts, evm_mine available."""

    @property
    def funded_accounts(self) -> list[LocalAccount]:
        return dev_accounts()

    def mine_blocks(self, count: int = 1) -> None:
        for _ in range(count):
            self.web3.provider.make_request("evm_mine", [])

    def tick(self) -> None:
        self.mine_blocks(1)


@contextmanager
def run_chain(spec: str, home: Path) -> Iterator[Chain]:
    """The chain of one run (the demo's): `auto` is a private Anvil on a free port for this run
    only, reachable from worker processes and stopped by its PID at the end, or the in-process
    EVM when Anvil is not installed; any other spec is `connect`'s."""
    if spec != "auto":
        yield connect(spec, home)
    elif anvil_executable() is None:
        yield EmbeddedChain()
    else:
        node = start_anvil(free_port(), None)
        try:
            chain = GanacheChain(node.url)
            chain.name = f"private Anvil at {node.url} (PID {node.pid})"
            yield chain
        finally:
            node.stop()


def local_node_port(spec: str) -> int:
    """The port of the local node `ganache` or `anvil`: its default, or its environment variable's."""
    variable, default_port = LOCAL_NODES[spec]
    return int(os.environ.get(variable, default_port))


def connect(spec: str, home: Path, *, start: bool = True) -> Chain:
    """`embedded`, `ganache` or `anvil` (started on demand unless `start` is false) or an http(s)
    JSON-RPC URL."""
    if spec == "embedded":
        return EmbeddedChain()
    if spec in LOCAL_NODES:
        port = local_node_port(spec)
        return GanacheChain(ensure_local_node(spec, home, port) if start else ganache_url(port))
    if spec.startswith(("http://", "https://")):
        chain = RpcChain(spec)
        if chain.web3.eth.chain_id == GANACHE_CHAIN_ID and spec.startswith("http://127.0.0.1"):
            return GanacheChain(spec)
        return chain
    raise InvalidChainSpecError(
        f"--chain must be 'embedded', 'ganache', 'anvil' or an http(s) JSON-RPC URL, got {spec!r}")
