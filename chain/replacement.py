"""Send one transaction and wait until it is mined, at one nonce whatever happens.

A transaction still unmined after the policy's wait is replaced at the SAME nonce with fees 12.5%
higher (within the cap), so at most one of the versions can ever be mined and no second
transaction is created; when the cap forbids a bump, that is said once and the transaction is
broadcast again and waited for. A node that stops answering while a transaction waits is waited
for too: giving up would let the caller send the same call again at the next nonce. The account's
lock is held throughout (chain/signer_lock.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import requests
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import TransactionNotFound, Web3RPCError

from chain.errors import AccountUnfunded, NonceTaken
from chain.fees import Fees, ether, gwei, market_fees
from chain.sending_policy import RECEIPT_POLL_SECONDS, SendingPolicy
from chain.signer_lock import SignerLock

_OUTAGES = (requests.RequestException, OSError)
_UNFUNDED = "insufficient funds"


@dataclass
class _InFlight:
    """One transaction at one nonce: its fields, the fees and bytes of its latest version, every hash sent."""

    transaction: dict[str, Any]
    fees: Fees
    raw: bytes
    hashes: list[Any] = field(default_factory=list)
    said: set[str] = field(default_factory=set)  # lines said once per transaction

    @property
    def nonce(self) -> int:
        return self.transaction["nonce"]


class NonceSender:
    """Sends `account`'s transactions on `web3` one at a time, each at the next nonce, until mined."""

    def __init__(self, web3: Web3, account: LocalAccount, chain_id: int) -> None:
        self._web3 = web3
        self._account = account
        self._chain_id = chain_id

    def send(self, unsigned: dict[str, Any]) -> tuple[Any, Any]:
        """(receipt, hash of the version that was mined) for a transaction without nonce or fees."""
        policy = SendingPolicy.of(self._web3)  # read per transaction: the command line sets it after connecting
        with SignerLock(policy.lock_home, self._chain_id, self._account.address).held(policy.say):
            nonce = self._web3.eth.get_transaction_count(self._account.address, "pending")
            quote = market_fees(self._web3, policy.max_fee_wei)
            if quote.below_base_fee:
                policy.say(f"the base fee {gwei(quote.base_fee or 0)} is above --max-fee-gwei "
                           f"{gwei(quote.fees.max_fee)}: the transaction waits until it falls")
            transaction = {**unsigned, "nonce": nonce, "chainId": self._chain_id}
            flight = _InFlight(transaction, quote.fees, self._sign(transaction, quote.fees))
            try:
                flight.hashes.append(self._web3.eth.send_raw_transaction(flight.raw))
            except Web3RPCError as error:
                if _UNFUNDED in str(error).lower():
                    raise AccountUnfunded(account=self._account.address, chainId=self._chain_id,
                                          ether=ether(self._web3.eth.get_balance(self._account.address))) from None
                raise
            return self._until_mined(flight, policy)

    def _sign(self, transaction: dict[str, Any], fees: Fees) -> bytes:
        return self._account.sign_transaction({**transaction, **fees.fields()}).raw_transaction

    def _until_mined(self, flight: _InFlight, policy: SendingPolicy) -> tuple[Any, Any]:
        while True:
            try:
                found = self._wait(flight.hashes, policy.replace_after_seconds)
                if found is not None:
                    return found
                self._check_nonce_still_ours(flight)
                self._replace(flight, policy)
            except _OUTAGES as error:
                _say_once(flight, policy, "outage", f"the node stopped answering while transaction "
                          f"{flight.hashes[-1].to_0x_hex()} (nonce {flight.nonce}) waits ({type(error).__name__}): "
                          "still waiting for it")
                time.sleep(min(policy.replace_after_seconds, 5.0))

    def _check_nonce_still_ours(self, flight: _InFlight) -> None:
        """Another transaction took this nonce (the key is used elsewhere): none of ours can be mined now."""
        taken = self._web3.eth.get_transaction_count(self._account.address, "latest") > flight.nonce
        if taken and self._wait(flight.hashes, RECEIPT_POLL_SECONDS) is None:  # not one of ours, mined since
            raise NonceTaken(account=self._account.address, nonce=flight.nonce)

    def _replace(self, flight: _InFlight, policy: SendingPolicy) -> None:
        """The same transaction with a 12.5% higher fee, or (no room under the cap) the same bytes again."""
        bumped = flight.fees.bumped(market_fees(self._web3, policy.max_fee_wei).fees)
        waited = f"{policy.replace_after_seconds:g}s"
        if not bumped.within(policy.max_fee_wei):
            _say_once(flight, policy, "capped", f"transaction {flight.hashes[-1].to_0x_hex()} (nonce {flight.nonce}) "
                      f"is not mined after {waited} and a 12.5% higher fee ({bumped}) is above --max-fee-gwei "
                      f"{gwei(policy.max_fee_wei or 0)}: still waiting")
            self._resend(flight.raw, flight, policy)  # in case a node dropped it
            return
        raw = self._sign(flight.transaction, bumped)
        replacement = self._resend(raw, flight, policy)
        if replacement is not None:
            policy.say(f"transaction {flight.hashes[-1].to_0x_hex()} (nonce {flight.nonce}) not mined after "
                       f"{waited}: replaced at the same nonce by {replacement.to_0x_hex()} ({bumped})")
            flight.fees, flight.raw = bumped, raw
            flight.hashes.append(replacement)

    def _resend(self, raw: bytes, flight: _InFlight, policy: SendingPolicy) -> Any:
        """The hash, or None when the node refuses (already known, already mined, underpriced, unaffordable):
        the versions sent before still stand, and the next look at the receipts tells."""
        try:
            return self._web3.eth.send_raw_transaction(raw)
        except Web3RPCError as error:
            if _UNFUNDED in str(error).lower():
                _say_once(flight, policy, "unfunded", f"account {self._account.address} cannot pay a higher fee "
                          f"for transaction {flight.hashes[-1].to_0x_hex()}: still waiting for it as sent")
            return None

    def _wait(self, hashes: list[Any], seconds: float) -> tuple[Any, Any] | None:
        """(receipt, hash) of whichever version gets mined within `seconds`, else None."""
        deadline = time.monotonic() + seconds
        while True:
            for tx_hash in reversed(hashes):
                try:
                    return self._web3.eth.get_transaction_receipt(tx_hash), tx_hash
                except TransactionNotFound:
                    continue
            if time.monotonic() >= deadline:
                return None
            time.sleep(RECEIPT_POLL_SECONDS)


def _say_once(flight: _InFlight, policy: SendingPolicy, kind: str, line: str) -> None:
    if kind not in flight.said:
        flight.said.add(kind)
        policy.say(line)
