"""A JSON-RPC proxy that behaves like a free-tier public provider in front of a real node.

It forwards every request to the node, except that `eth_getLogs` is refused over more than
`max_blocks` blocks (Alchemy's message) or when its result holds more than `max_logs` logs
(Infura's code and message), and every `rate_limit_every`-th log query is answered with HTTP 429
or a JSON-RPC rate-limit error, in turn. It counts what it refused, so tests can tell it did, and
every request by method, so tests can count a client's polls.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests


class ProviderLimits:
    def __init__(self, max_blocks: int, max_logs: int, rate_limit_every: int) -> None:
        self.max_blocks = max_blocks
        self.max_logs = max_logs
        self.rate_limit_every = rate_limit_every
        self.refused: Counter[str] = Counter()
        self.methods: Counter[str] = Counter()  # every request received, by JSON-RPC method
        self.log_queries = 0
        self._lock = threading.Lock()

    def answer(self, upstream: str, request: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        """(HTTP status, JSON body) for one JSON-RPC request."""
        with self._lock:
            self.methods[request.get("method")] += 1
        if request.get("method") != "eth_getLogs":
            return 200, requests.post(upstream, json=request, timeout=30).json()
        with self._lock:
            self.log_queries += 1
            turn = self.log_queries
        if self.rate_limit_every and turn % self.rate_limit_every == 0:
            if (turn // self.rate_limit_every) % 2:
                self.refused["http 429"] += 1
                return 429, None
            self.refused["rpc rate"] += 1
            return 200, _error(request, 429, "Your app has exceeded its compute units per second capacity")
        query = request["params"][0]
        blocks = int(query["toBlock"], 16) - int(query["fromBlock"], 16) + 1
        if blocks > self.max_blocks:
            self.refused["range"] += 1
            return 200, _error(request, -32600, f"Under the Free tier plan, you can make eth_getLogs requests "
                                                f"with up to a {self.max_blocks} block range.")
        answer = requests.post(upstream, json=request, timeout=30).json()
        if len(answer.get("result") or []) > self.max_logs:
            self.refused["size"] += 1
            return 200, _error(request, -32005, f"query returned more than {self.max_logs} results")
        return 200, answer


def _error(request: dict[str, Any], code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request.get("id"), "error": {"code": code, "message": message}}


@contextmanager
def limited_provider(upstream: str, limits: ProviderLimits) -> Iterator[str]:
    """The proxy's URL, served by a thread of this process until the block ends."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status, body = limits.answer(upstream, request)
            payload = json.dumps(body).encode() if body is not None else b"Too Many Requests"
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if body is not None else "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
