"""Send one transaction and wait until it is mined, at one nonce whatever happens.

A transaction still unmined after the policy's wait is replaced at the SAME nonce with fees 12.5%
higher (within the cap), so at most one of the versions can ever be mined and no second
transaction is created; when the cap forbids a bump, that is said once and the transaction is
broadcast again and waited for. The account's lock is held throughout (chain/signer_lock.py).
"""

from __future__ import annotations

import time
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import TransactionNotFound, Web3RPCError

from chain.errors import AccountUnfunded, NonceTaken
from chain.fees import Fees, ether, gwei, market_fees
from chain.sending_policy import RECEIPT_POLL_SECONDS, SendingPolicy
from chain.signer_lock import SignerLock

_HARMLESS_RESEND = ("already known", "already imported", "nonce too low", "underpriced", "known transaction")


class NonceSender:
    """Sends `account`'s transactions on `web3` one at a time, each at the next nonce, until mined."""

    def __init__(self, web3: Web3, account: LocalAccount, chain_id: int) -> None:
        self._web3 = web3
        self._account = account
        self._chain_id = chain_id
        self._policy = SendingPolicy.of(web3)

    def send(self, unsigned: dict[str, Any]) -> tuple[Any, Any]:
        """(receipt, hash of the version that was mined) for a transaction without nonce or fees."""
        self._policy = SendingPolicy.of(self._web3)  # the command line may set it after this sender was made
        with SignerLock(self._policy.lock_home, self._chain_id, self._account.address).held(self._policy.say):
            nonce = self._web3.eth.get_transaction_count(self._account.address, "pending")
            quote = market_fees(self._web3, self._policy.max_fee_wei)
            if quote.below_base_fee:
                self._policy.say(f"the base fee {gwei(quote.base_fee or 0)} is above --max-fee-gwei "
                                 f"{gwei(quote.fees.max_fee)}: the transaction waits until it falls")
            transaction = {**unsigned, "nonce": nonce, "chainId": self._chain_id}
            raw = self._sign(transaction, quote.fees)
            hashes = [self._broadcast(raw, first=True)]
            return self._until_mined(transaction, quote.fees, raw, hashes)

    def _sign(self, transaction: dict[str, Any], fees: Fees) -> bytes:
        return self._account.sign_transaction({**transaction, **fees.fields()}).raw_transaction

    def _broadcast(self, raw: bytes, first: bool = False) -> Any:
        """Send signed bytes; a first send the account cannot pay for raises AccountUnfunded."""
        try:
            return self._web3.eth.send_raw_transaction(raw)
        except Web3RPCError as error:
            text = str(error).lower()
            if "insufficient funds" in text and first:
                raise AccountUnfunded(account=self._account.address, chainId=self._chain_id,
                                      ether=self._ether()) from None
            if first or not any(word in text for word in (*_HARMLESS_RESEND, "insufficient funds")):
                raise
            return None  # a version already in the pool or mined: waiting tells which

    def _ether(self) -> str:
        return ether(self._web3.eth.get_balance(self._account.address))

    def _until_mined(self, transaction: dict[str, Any], fees: Fees, raw: bytes, hashes: list[Any]) -> tuple[Any, Any]:
        said_capped = False
        while True:
            found = self._wait(hashes, self._policy.replace_after_seconds)
            if found is not None:
                return found
            if self._web3.eth.get_transaction_count(self._account.address, "latest") > transaction["nonce"]:
                found = self._wait(hashes, RECEIPT_POLL_SECONDS)  # one of ours, mined since the last look?
                if found is not None:
                    return found
                raise NonceTaken(account=self._account.address, nonce=transaction["nonce"])
            bumped = fees.bumped(market_fees(self._web3, self._policy.max_fee_wei).fees)
            waited = f"{self._policy.replace_after_seconds:g}s"
            if not bumped.within(self._policy.max_fee_wei):
                if not said_capped:
                    self._policy.say(f"transaction {hashes[-1].to_0x_hex()} (nonce {transaction['nonce']}) is not "
                                     f"mined after {waited} and a 12.5% higher fee ({bumped}) is above "
                                     f"--max-fee-gwei {gwei(self._policy.max_fee_wei or 0)}: still waiting")
                    said_capped = True
                self._broadcast(raw)  # again, in case a node dropped it
                continue
            fees, raw = bumped, self._sign(transaction, bumped)
            replacement = self._broadcast(raw)
            if replacement is not None:
                self._policy.say(f"transaction {hashes[-1].to_0x_hex()} (nonce {transaction['nonce']}) not mined "
                                 f"after {waited}: replaced at the same nonce by {replacement.to_0x_hex()} ({fees})")
                hashes.append(replacement)

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
