"""Build, sign locally, send and await transactions; turn reverts into readable exceptions.

Every transaction is estimated first, so a call the contract would refuse raises the named
exception before anything is signed or sent, and costs nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_tester.exceptions import TransactionFailed as TesterTransactionFailed
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError

from chain.errors import RevertDecoder, UnknownRevert

GAS_MARGIN = 1.25
RECEIPT_TIMEOUT_SECONDS = 120


class TransactionFailedError(RuntimeError):
    """A mined transaction reverted (status 0) even though its estimate passed."""


@dataclass(frozen=True)
class TxResult:
    """What one transaction cost and where it landed."""

    tx_hash: str
    block_number: int
    gas_used: int
    seconds: float
    receipt: Any


class TransactionSender:
    """Sends contract calls from one account, one at a time (nonces stay in order)."""

    def __init__(self, web3: Web3, account: LocalAccount, decoder: RevertDecoder) -> None:
        self._web3 = web3
        self.account = account
        self._decoder = decoder
        self._lock = threading.Lock()
        self._chain_id: int | None = None

    @property
    def chain_id(self) -> int:
        """Asked once: a connection never changes chains."""
        if self._chain_id is None:
            self._chain_id = self._web3.eth.chain_id
        return self._chain_id

    def call(self, function: ContractFunction) -> Any:
        """A read-only call, with reverts decoded."""
        with reverts_decoded(self._decoder):
            return function.call({"from": self.account.address})

    def transfer(self, to: str, wei: int) -> TxResult:
        """A plain ether transfer, e.g. to fund a simulated client's account."""
        started = time.perf_counter()
        with self._lock:
            transaction = {
                "from": self.account.address, "to": to, "value": wei, "gas": 21_000,
                "nonce": self._web3.eth.get_transaction_count(self.account.address, "pending"),
                "chainId": self.chain_id, "gasPrice": self._web3.eth.gas_price,
            }
            tx_hash = self._web3.eth.send_raw_transaction(self.account.sign_transaction(transaction).raw_transaction)
        return self._await(tx_hash, started)

    def send(self, function: ContractFunction) -> TxResult:
        started = time.perf_counter()
        with self._lock:
            with reverts_decoded(self._decoder):
                gas = function.estimate_gas({"from": self.account.address})
            transaction = function.build_transaction({
                "from": self.account.address,
                "nonce": self._web3.eth.get_transaction_count(self.account.address, "pending"),
                "gas": int(gas * GAS_MARGIN),
                "chainId": self.chain_id,
            })
            signed = self.account.sign_transaction(transaction)
            tx_hash = self._web3.eth.send_raw_transaction(signed.raw_transaction)
        return self._await(tx_hash, started)

    def _await(self, tx_hash: Any, started: float) -> TxResult:
        receipt = self._web3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_SECONDS)
        if receipt["status"] != 1:
            raise TransactionFailedError(f"transaction {tx_hash.to_0x_hex()} reverted when mined")
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
    except TesterTransactionFailed as error:
        raise _decode_tester_revert(decoder, error) from None


def _ganache_revert_data(error: ContractLogicError) -> str | None:
    """Ganache reports a custom error's data as `data.result` instead of the standard `data`."""
    details = error.data
    if isinstance(details, dict) and isinstance(details.get("result"), str) and len(details["result"]) >= 10:
        return details["result"]
    return None


def _decode_tester_revert(decoder: RevertDecoder, error: TesterTransactionFailed) -> Exception:
    """web3's eth-tester provider re-raises reverts as text; the raw data is on the original."""
    original = error.__context__
    raw = original.args[0] if isinstance(original, TesterTransactionFailed) and original.args else None
    if isinstance(raw, Exception) and raw.args:
        raw = raw.args[0]
    if isinstance(raw, bytes) and len(raw) >= 4:
        return decoder.decode(raw)
    return UnknownRevert(reason=str(error))
