"""How transactions are sent on one chain connection: the fee cap, how long a transaction may stay
unmined before it is replaced, and where the per-key sender locks live.

Set once by the command line when it connects (`--max-fee-gwei`, the home) and read by every
sender on that connection, so services, web nodes and tools need not pass it along.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from web3 import Web3

from chain.fees import GWEI
from chain.per_connection import PerConnection

REPLACE_AFTER_SECONDS = 60.0  # five Ethereum blocks: a transaction still pending then is underpriced
RECEIPT_POLL_SECONDS = 0.1


def say_on_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class SendingPolicy:
    max_fee_wei: int | None = None  # None: no cap
    replace_after_seconds: float = REPLACE_AFTER_SECONDS
    lock_home: Path | None = None  # None: senders take turns within this process only
    say: Callable[[str], None] = field(default=say_on_stderr, compare=False)

    @classmethod
    def of(cls, web3: Web3) -> SendingPolicy:
        return _POLICIES.of(web3)

    def apply_to(self, web3: Web3) -> None:
        _POLICIES.set(web3, self)


_POLICIES: PerConnection[SendingPolicy] = PerConnection(SendingPolicy)


def gwei_to_wei(value: float | None) -> int | None:
    """`--max-fee-gwei` in wei; refused unless positive and finite."""
    if value is None:
        return None
    if not 0 < value < 1e9:
        raise ValueError(f"--max-fee-gwei must be a positive number of gwei below 1e9, got {value}")
    return round(value * GWEI)
