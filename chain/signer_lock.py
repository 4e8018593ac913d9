"""One sender at a time per key: processes that share a home and a key take turns, so two of them
never read the same "next nonce" and overwrite each other's transactions.

The lock (a file per chain id and address in the home) is held from reading the nonce until that
transaction is mined, so `run.py clients allow` can run beside a running organization with the
same key: it waits for the organization's transaction in flight, saying whose it is, then sends.
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

SIGNERS_DIRECTORY = "signers"


class SignerLock:
    """The turn to send from `address` on chain `chain_id`, among the processes using `home`
    (and, whatever the home, among the threads of this process)."""

    _in_process: ClassVar[dict[tuple[int, str], threading.Lock]] = {}
    _creating: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, home: Path | None, chain_id: int, address: str) -> None:
        self.address = address
        self.chain_id = chain_id
        self.path = None if home is None else home / SIGNERS_DIRECTORY / f"{chain_id}-{address.lower()}.lock"
        with self._creating:
            self._thread_lock = self._in_process.setdefault((chain_id, address.lower()), threading.Lock())

    @contextmanager
    def held(self, say: Callable[[str], None]) -> Iterator[None]:
        """Wait for the turn (saying once who has it), hold it for the block."""
        with self._thread_lock:
            if self.path is None:
                yield
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a+") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    say(f"account {self.address} on chain {self.chain_id} is sending a transaction in "
                        f"{_holder(self.path)}: waiting for it to be mined (one sender per key; lock {self.path})")
                    fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    handle.seek(0)
                    handle.truncate()
                    handle.write(f"process {os.getpid()} ({_command()}) since {time.strftime('%H:%M:%S')}\n")
                    handle.flush()
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)


def _holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "another process"
    except OSError:
        return "another process"


def _command() -> str:
    words = [Path(sys.argv[0]).name, *sys.argv[1:3]] if sys.argv and sys.argv[0] else ["python"]
    return " ".join(words)
