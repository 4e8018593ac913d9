"""Transaction fees: EIP-1559 where the chain has a base fee, a legacy gas price elsewhere, both
within the user's cap (`--max-fee-gwei`), and the 12.5% bump that replaces a stuck transaction.

Nodes accept a replacement at the same nonce only when it pays more (geth: at least 10% more on
both the max fee and the tip); 12.5% clears every common node's rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from web3 import Web3

GWEI = 10**9
BUMP_PERCENT = 12.5


def gwei(wei: int) -> str:
    return f"{wei / GWEI:.9g} gwei"


def ether(wei: int) -> str:
    """Exact, without trailing zeros: 0, 0.001, 1000."""
    whole, fraction = divmod(wei, 10**18)
    return f"{whole}.{fraction:018d}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Fees:
    """What one transaction offers: `max_fee` and `tip` per gas (a legacy chain: `max_fee` is the gas price)."""

    max_fee: int
    tip: int
    legacy: bool = False

    def fields(self) -> dict[str, int]:
        """The fee fields of a transaction dict."""
        if self.legacy:
            return {"gasPrice": self.max_fee}
        return {"maxFeePerGas": self.max_fee, "maxPriorityFeePerGas": self.tip}

    def bumped(self, market: Fees) -> Fees:
        """At least 12.5% more on both fields, and no less than the market asks now."""
        return Fees(max(_raise(self.max_fee), market.max_fee), max(_raise(self.tip), market.tip), self.legacy)

    def within(self, cap: int | None) -> bool:
        return cap is None or self.max_fee <= cap

    def __str__(self) -> str:
        if self.legacy:
            return f"gas price {gwei(self.max_fee)}"
        return f"max fee {gwei(self.max_fee)}, tip {gwei(self.tip)}"


def _raise(wei: int) -> int:
    return max(wei + 1, math.ceil(wei * (100 + BUMP_PERCENT) / 100))


@dataclass(frozen=True)
class FeeQuote:
    """The fees to offer now, and the base fee they must beat to be mined (None on a legacy chain)."""

    fees: Fees
    base_fee: int | None

    @property
    def below_base_fee(self) -> bool:
        """The cap holds the offer under the base fee: it waits until the base fee falls."""
        return self.base_fee is not None and self.fees.max_fee < self.base_fee


def market_fees(web3: Web3, cap: int | None) -> FeeQuote:
    """web3's own EIP-1559 rule (twice the base fee plus the node's suggested tip), capped at `cap` wei."""
    base_fee = web3.eth.get_block("latest").get("baseFeePerGas")
    if base_fee is None:
        price = web3.eth.gas_price
        return FeeQuote(Fees(_capped(price, cap), 0, legacy=True), None)
    tip = web3.eth.max_priority_fee
    max_fee = _capped(2 * base_fee + tip, cap)
    return FeeQuote(Fees(max_fee, min(tip, max_fee)), base_fee)


def _capped(wei: int, cap: int | None) -> int:
    return wei if cap is None else min(wei, cap)
