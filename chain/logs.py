"""`eth_getLogs` over any block range, on nodes that limit what one query may cover or return.

Public providers refuse a query whose block range is too wide (free tiers allow 5 or 10 blocks)
or whose result is too large (Infura: 10,000 logs), and rate-limit busy clients. Every reader of
the contract's history goes through `read_logs`, which halves a refused range down to a single
block, grows it back after successes, backs off on rate limits, and returns each log of the
range exactly once, in chain order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from web3 import Web3
from web3.exceptions import Web3RPCError
from web3.types import LogReceipt

from chain.per_connection import PerConnection

LOG_PAGE_BLOCKS = 5_000  # the widest query tried; a node that allows less says so and is met halfway
RATE_LIMIT_FIRST_PAUSE_SECONDS = 0.5
RATE_LIMIT_LONGEST_PAUSE_SECONDS = 30.0
RATE_LIMIT_ATTEMPTS = 10  # consecutive refusals before the provider is reported as refusing

_RATE_LIMIT_WORDS = ("rate limit", "rate-limit", "too many requests", "exceeded its compute units", "capacity")
_RANGE_WORDS = ("block range", "range is too", "range too", "blocks range", "limited to a", "range limit")
_SIZE_WORDS = ("more than", "results", "response size", "limit exceeded", "too large", "too big", "-32005")


class LogQueryError(RuntimeError):
    """The node refuses even the narrowest query, or keeps rate-limiting: the message says which."""


@dataclass
class _Span:
    """How many blocks one query covers on this connection: `ceiling` only falls (the node's range
    limit, learned once), `current` also falls for a dense stretch and grows back after it."""

    ceiling: int = LOG_PAGE_BLOCKS
    current: int = LOG_PAGE_BLOCKS


_SPANS: PerConnection[_Span] = PerConnection(_Span)  # the limit is found once per connection


def refusal_kind(error: BaseException) -> str | None:
    """'rate' (try again later), 'range' (too many blocks), 'size' (too many logs), or None: not a limit."""
    if isinstance(error, requests.HTTPError) and error.response is not None:
        status = error.response.status_code
        if status in (413, 429):
            return "rate" if status == 429 else "size"
        text, code = error.response.text[:1000].lower(), None  # some providers answer 400 with the reason
    elif isinstance(error, Web3RPCError | ValueError):
        text = str(error).lower()
        code = (getattr(error, "rpc_response", None) or {}).get("error", {}).get("code")
    else:
        return None
    if code == 429 or any(word in text for word in _RATE_LIMIT_WORDS):
        return "rate"
    if any(word in text for word in _RANGE_WORDS):
        return "range"
    if code == -32005 or any(word in text for word in _SIZE_WORDS):
        return "size"
    return None


def read_logs(web3: Web3, query: dict[str, Any], first: int, last: int,
              pause: Callable[[float], None] = time.sleep) -> list[LogReceipt]:
    """Every log matching `query` (address, topics) in blocks [first, last], each once, in order."""
    span = _SPANS.of(web3)
    logs: list[LogReceipt] = []
    start, pauses = first, 0
    while start <= last:
        end = min(start + min(span.current, span.ceiling) - 1, last)
        try:
            logs += web3.eth.get_logs({**query, "fromBlock": start, "toBlock": end})
        except Exception as error:
            kind = refusal_kind(error)
            if kind is None:
                raise
            if kind == "rate":
                pauses += 1
                if pauses >= RATE_LIMIT_ATTEMPTS:
                    raise LogQueryError(f"the node keeps rate-limiting log queries ({pauses} refusals in a row): "
                                        "wait, or use a provider plan with a higher limit") from None
                pause(min(RATE_LIMIT_FIRST_PAUSE_SECONDS * 2 ** (pauses - 1), RATE_LIMIT_LONGEST_PAUSE_SECONDS))
                continue
            if end == start:
                raise LogQueryError(f"the node refuses a log query of the single block {start} ({kind} limit): "
                                    "use a node or provider plan that returns a whole block's logs") from None
            halved = max(1, (end - start + 1) // 2)
            span.current = halved
            if kind == "range":
                span.ceiling = halved
            continue
        pauses = 0
        start = end + 1
        span.current = min(span.current * 2, span.ceiling)
    return logs
