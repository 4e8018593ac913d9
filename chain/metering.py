"""Count the JSON-RPC requests a chain connection makes and the blocks its log queries cover.

Per-round cost must not grow with the round number; seconds are noisy on a shared machine, these
counts are not. Tests and benchmarks use them to show a round's chain work is flat.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from web3 import Web3
from web3.middleware import Web3Middleware


class RequestMeter:
    """Requests per JSON-RPC method, and blocks covered by `eth_getLogs`, since the last reset."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.log_blocks = 0
        self._lock = threading.Lock()

    def record(self, method: str, params: Any, latest: Callable[[], int]) -> None:
        with self._lock:
            self.requests[method] += 1
        if method == "eth_getLogs" and params:
            query = params[0]
            start, end = (_block(query.get(key), latest) for key in ("fromBlock", "toBlock"))
            with self._lock:
                self.log_blocks += max(0, end - start + 1)

    def snapshot(self) -> tuple[int, int]:
        """(requests, log-scanned blocks) so far."""
        with self._lock:
            return sum(self.requests.values()), self.log_blocks


def _block(value: Any, latest: Callable[[], int]) -> int:
    if value is None or value in ("latest", "pending", "safe", "finalized"):
        return latest()
    if value == "earliest":
        return 0
    return int(value, 16) if isinstance(value, str) else int(value)


def meter(web3: Web3) -> RequestMeter:
    """Attach a meter to `web3` (every request through it is counted from now on)."""
    counts = RequestMeter()

    class _Metering(Web3Middleware):
        def wrap_make_request(self, make_request: Any) -> Any:
            def counted(method: Any, params: Any) -> Any:
                counts.record(str(method), params, lambda: int(make_request("eth_blockNumber", [])["result"], 16))
                return make_request(method, params)

            return counted

    web3.middleware_onion.add(_Metering, name=f"request meter {id(counts)}")
    return counts
