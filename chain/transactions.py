"""Build, sign locally, send and await transactions; turn reverts into readable exceptions.

Gas is flat by design (every function costs the same whatever the number of clients or rounds,
tests/chain/test_gas.py checks it), so each contract function is estimated once per chain and
its limit reused with a margin. Every later call is pre-flighted with one `eth_call`, so a call
the contract would refuse still raises the named exception before anything is signed or sent.
A transaction that runs out of gas anyway is re-estimated and sent once more. Fees, nonces and
the replacement of a stuck transaction are chain/replacement.py's.
"""

from __future__ import annotations

import ast
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError

from chain.errors import RevertDecoder, UnknownRevert
from chain.per_connection import PerConnection
from chain.replacement import NonceSender

if TYPE_CHECKING:
    from eth_tester.exceptions import TransactionFailed as TesterTransactionFailed

GAS_MARGIN = 1.5  # unused gas is refunded: a generous limit costs nothing and absorbs cold storage slots


class GasLimits:
    """Gas limits per (contract, function), shared by every sender on one chain connection."""

    def __init__(self) -> None:
        self._limits: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._estimating: dict[tuple[str, str], threading.Lock] = {}

    @classmethod
    def of(cls, web3: Web3) -> GasLimits:
        return _GAS_LIMITS.of(web3)

    def get(self, function: ContractFunction | ContractConstructor) -> int | None:
        """The known limit; none for a deployment (its gas depends on the bytecode, and it runs once)."""
        if isinstance(function, ContractConstructor):
            return None
        with self._lock:
            return self._limits.get(_function_key(function))

    @contextmanager
    def estimating(self, function: ContractFunction | ContractConstructor) -> Iterator[None]:
        """The turn to estimate `function`: threads that need the same limit at once wait for the first
        one's instead of asking the node each (Ganache answered 8 concurrent estimates of `register`
        in 0.9 s each, and one in 10 s)."""
        if isinstance(function, ContractConstructor):
            yield
            return
        with self._lock:
            turn = self._estimating.setdefault(_function_key(function), threading.Lock())
        with turn:
            yield

    def learn(self, function: ContractFunction | ContractConstructor, estimate: int) -> int:
        """Record an estimate; the limit only grows, so one cold-slot estimate covers every later call."""
        limit = int(estimate * GAS_MARGIN)
        if isinstance(function, ContractConstructor):
            return limit
        key = _function_key(function)
        with self._lock:
            self._limits[key] = max(self._limits.get(key, 0), limit)
            return self._limits[key]


_GAS_LIMITS: PerConnection[GasLimits] = PerConnection(GasLimits)


def _function_key(function: ContractFunction) -> tuple[str, str]:
    return str(function.address), function.fn_name


class TransactionFailedError(RuntimeError):
    """A mined transaction reverted (status 0) even though its pre-flight passed."""


@dataclass(frozen=True)
class TxResult:
    """What one transaction cost and where it landed."""

    tx_hash: str
    block_number: int
    gas_used: int
    seconds: float
    receipt: Any


class TransactionSender:
    """Sends contract calls from one account, one at a time, each at its own nonce until mined."""

    def __init__(self, web3: Web3, account: LocalAccount, decoder: RevertDecoder) -> None:
        self._web3 = web3
        self.account = account
        self._decoder = decoder
        self._chain_id: int | None = None
        self._gas_limits = GasLimits.of(web3)
        self._nonce_sender: NonceSender | None = None
        self.read_block: int | None = None  # where calls without a block read (None: the latest)

    @property
    def _nonces(self) -> NonceSender:
        if self._nonce_sender is None:
            self._nonce_sender = NonceSender(self._web3, self.account, self.chain_id)
        return self._nonce_sender

    @property
    def chain_id(self) -> int:
        """Asked once: a connection never changes chains."""
        if self._chain_id is None:
            self._chain_id = self._web3.eth.chain_id
        return self._chain_id

    def call(self, function: ContractFunction, block: int | None = None) -> Any:
        """A read-only call, with reverts decoded; at `block` when given (else at `read_block`, else the latest)."""
        block = self.read_block if block is None else block
        with reverts_decoded(self._decoder):
            if block is None:
                return function.call({"from": self.account.address})
            return function.call({"from": self.account.address}, block_identifier=block)

    def transfer(self, to: str, wei: int) -> TxResult:
        """A plain ether transfer, e.g. to fund a simulated client's account."""
        started = time.perf_counter()
        receipt, tx_hash = self._nonces.send({"from": self.account.address, "to": to, "value": wei, "gas": 21_000})
        if receipt["status"] != 1:
            raise TransactionFailedError(f"transaction {tx_hash.to_0x_hex()} reverted when mined")
        return _result(tx_hash, receipt, started)

    def send(self, function: ContractFunction | ContractConstructor) -> TxResult:
        """Send a contract call: refused calls raise the contract's named error and spend nothing."""
        started = time.perf_counter()
        gas = self._preflight(function)
        receipt, tx_hash = self._send_and_wait(function, gas)
        if receipt["status"] != 1 and receipt["gasUsed"] >= gas:  # out of gas: the limit was too tight
            gas = self._estimate(function)
            receipt, tx_hash = self._send_and_wait(function, gas)
        if receipt["status"] != 1:
            self._estimate(function)  # the state changed since the pre-flight: raise the contract's reason
            raise TransactionFailedError(f"transaction {tx_hash.to_0x_hex()} reverted when mined")
        return _result(tx_hash, receipt, started)

    def _preflight(self, function: ContractFunction | ContractConstructor) -> int:
        """The gas limit to send with, after checking the call would succeed (one eth_call once known)."""
        gas = self._gas_limits.get(function)
        if gas is None:
            with self._gas_limits.estimating(function):
                gas = self._gas_limits.get(function)  # another thread may have learned it meanwhile
                if gas is None:
                    return self._estimate(function)
        with reverts_decoded(self._decoder):
            function.call({"from": self.account.address})
        return gas

    def _estimate(self, function: ContractFunction | ContractConstructor) -> int:
        with reverts_decoded(self._decoder):
            estimate = function.estimate_gas({"from": self.account.address})
        return self._gas_limits.learn(function, estimate)

    def _send_and_wait(self, function: ContractFunction | ContractConstructor, gas: int) -> tuple[Any, Any]:
        """Mined at one nonce, replaced with a higher fee while it waits (chain/replacement.py)."""
        # placeholder nonce and fees keep web3 from asking the node for them: NonceSender sets the real ones
        built = function.build_transaction({"from": self.account.address, "gas": gas, "chainId": self.chain_id,
                                            "nonce": 0, "maxFeePerGas": 0, "maxPriorityFeePerGas": 0})
        return self._nonces.send({key: built[key] for key in ("from", "to", "data", "value", "gas") if key in built})


def _result(tx_hash: Any, receipt: Any, started: float) -> TxResult:
    return TxResult(
        tx_hash=tx_hash.to_0x_hex(),
        block_number=receipt["blockNumber"],
        gas_used=receipt["gasUsed"],
        seconds=time.perf_counter() - started,
        receipt=receipt,
    )


@contextmanager
def reverts_decoded(decoder: RevertDecoder) -> Iterator[None]:
    """Turn web3's revert exceptions into the `ContractRevert` subclass the contract named."""
    try:
        yield
    except ContractCustomError as error:
        raise decoder.decode(error.data) from None
    except ContractLogicError as error:
        data = _ganache_revert_data(error)
        raise (decoder.decode(data) if data else UnknownRevert(reason=error.message or str(error))) from None
    except _tester_failures() as error:
        raise _decode_tester_revert(decoder, error) from None


def _tester_failures() -> tuple[type[Exception], ...]:
    """eth-tester's revert, once the in-process EVM is loaded: only it raises one, and importing it
    would cost every other command 0.3 s of py-evm."""
    module = sys.modules.get("eth_tester.exceptions")
    return (module.TransactionFailed,) if module is not None else ()


def _ganache_revert_data(error: ContractLogicError) -> str | None:
    """Ganache reports a custom error's data as `data.result` instead of the standard `data`."""
    details = error.data
    if isinstance(details, dict) and isinstance(details.get("result"), str) and len(details["result"]) >= 10:
        return details["result"]
    return None


def _decode_tester_revert(decoder: RevertDecoder, error: TesterTransactionFailed) -> Exception:
    """web3's eth-tester provider re-raises reverts as text; the raw data is on the original
    (an `eth_call` in eth-tester keeps only the repr of the revert bytes: a Python bytes literal)."""
    original = error.__context__
    raw = original.args[0] if isinstance(original, _tester_failures()) and original.args else None
    if isinstance(raw, Exception) and raw.args:
        raw = raw.args[0]
    if isinstance(raw, str) and raw.startswith(("b'", 'b"')):
        raw = ast.literal_eval(raw)  # literals only: this text comes from the in-process EVM
    if isinstance(raw, bytes) and len(raw) >= 4:
        return decoder.decode(raw)
    return UnknownRevert(reason=str(error))
