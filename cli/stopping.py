"""Ctrl-C and `kill` for long-running commands: one line at once, a clean stop, a second signal forces.

The first SIGINT or SIGTERM prints what is stopping and raises KeyboardInterrupt in the main
thread, so the command unwinds through its `finally` blocks (servers close, child processes we
started stop). Nothing is lost by stopping anywhere: the chain and IPFS hold the state, and the
services resume from them. A second signal exits at once.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

FORCED_EXIT_CODE = 130


class Stopping(KeyboardInterrupt):
    """Raised in the main thread by the first signal; the line has been printed already."""


@contextmanager
def stop_on_signals(what: str) -> Iterator[threading.Event]:
    """Inside the block, SIGINT/SIGTERM print `stopping {what} (...)` and raise `Stopping`.

    The event is set too, for loops in other threads that poll it.
    """
    requested = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if requested.is_set():
            print(f"{name} again: exiting now", file=sys.stderr, flush=True)
            sys.stdout.flush()
            os._exit(FORCED_EXIT_CODE)
        requested.set()
        print(f"{name}: stopping {what} (press Ctrl-C again to force)", file=sys.stderr, flush=True)
        raise Stopping

    if threading.current_thread() is not threading.main_thread():
        yield requested  # signals are delivered to the main thread only; nothing to install here
        return
    previous = {signum: signal.signal(signum, handle) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield requested
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
