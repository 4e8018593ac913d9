"""The web3 provider of the in-process EVM: eth-tester serialized by a lock, with two memories.

py-evm answers every view call by executing it and every `eth_getLogs` by walking each block of
the range and rebuilding its receipts, so a secure round read again at every poll spent most of its
time there. Here nothing changes the chain but a request through this provider or `mine_blocks`,
and blocks are never rewritten (no snapshots are taken), so:

- a read (view call, block number, code, balance, receipt...) is answered from memory until the
  next request that can change the chain, or a mined block;
- logs are kept per block as blocks appear, and a log query is filtered from them.
"""

from __future__ import annotations

import threading
from typing import Any

from web3.providers.eth_tester import EthereumTesterProvider

# Answers that only depend on the chain's state: the same until a transaction or a mined block.
STATE_READS = frozenset({
    "eth_call", "eth_chainId", "eth_blockNumber", "eth_getCode", "eth_getBalance", "eth_getTransactionCount",
    "eth_getBlockByNumber", "eth_getTransactionReceipt", "eth_estimateGas", "eth_gasPrice",
    "eth_maxPriorityFeePerGas", "eth_feeHistory", "net_version", "web3_clientVersion",
})
BLOCK_TAGS = frozenset({"latest", "pending", "safe", "finalized"})


class EmbeddedProvider(EthereumTesterProvider):
    """py-evm is not thread-safe; clients training in threads share one chain through this lock."""

    def __init__(self, tester: Any, lock: threading.RLock) -> None:
        super().__init__(tester)
        self._lock = lock
        self._reads: dict[str, Any] = {}
        self._block_logs: list[list[dict[str, Any]]] = []  # the logs of blocks 0, 1, ... seen so far

    def make_request(self, method: Any, params: Any) -> Any:
        with self._lock:
            if method == "eth_getLogs" and "block_hash" not in params[0]:
                return self._answer({"jsonrpc": "2.0", "result": tuple(self._logs(params[0]))})
            if method not in STATE_READS:
                self.chain_changed()
                return super().make_request(method, params)
            key = f"{method}{params!r}"
            if key not in self._reads:
                self._reads[key] = super().make_request(method, params)
            return self._answer(self._reads[key])

    def _answer(self, response: dict[str, Any]) -> dict[str, Any]:
        """`response` under the next request id, as eth-tester numbers its answers."""
        answer = {**response, "id": repr(self._current_request_id)}
        self._current_request_id += 1
        return answer

    def chain_changed(self) -> None:
        """Forget the reads: a transaction may have changed the state, or a block was mined."""
        self._reads.clear()

    def _head(self) -> int:
        return int(self.make_request("eth_blockNumber", [])["result"])

    def _logs(self, criteria: dict[str, Any]) -> list[dict[str, Any]]:
        head = self._head()
        first, last = (self._block_number(criteria.get(k, "latest"), head) for k in ("from_block", "to_block"))
        self._index_up_to(min(last, head))
        addresses = _lowered(criteria.get("address"))
        topics = [None if t is None else _lowered(t) for t in criteria.get("topics") or []]
        return [log for block in self._block_logs[max(first, 0):last + 1] for log in block
                if _matches(log, addresses, topics)]

    def _index_up_to(self, last: int) -> None:
        first = len(self._block_logs)
        if last < first:
            return
        found = super().make_request("eth_getLogs", ({"from_block": first, "to_block": last},))["result"]
        self._block_logs.extend([] for _ in range(last - first + 1))
        for log in found:
            self._block_logs[int(log["block_number"])].append(log)

    @staticmethod
    def _block_number(tag: Any, head: int) -> int:
        if tag == "earliest":
            return 0
        return head if tag is None or tag in BLOCK_TAGS else int(tag)


def _lowered(value: str | list[str] | tuple[str, ...] | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset(v.lower() for v in ([value] if isinstance(value, str) else value))


def _matches(log: dict[str, Any], addresses: frozenset[str] | None, topics: list[frozenset[str] | None]) -> bool:
    """eth_getLogs' filter: any of the addresses; per position, any of the topics (None: any)."""
    if addresses is not None and log["address"].lower() not in addresses:
        return False
    logged = [t.lower() for t in log["topics"]]
    return all(wanted is None or (i < len(logged) and logged[i] in wanted) for i, wanted in enumerate(topics))
