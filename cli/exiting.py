"""Ending a command without Python's module teardown.

After a command that imported torch, the interpreter's own teardown (freeing every module and
object one by one) takes 0.5-1 s on these machines: a second of waiting for nothing after the
demo has printed its result. Once the command is over, its threads have ended and the exit
handlers have run, nothing else that teardown does matters (files are closed, streams flushed),
so the process ends at once.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

THREAD_GRACE_SECONDS = 2.0


def exit_without_teardown(code: int) -> NoReturn:
    """Exit with `code`: at once when only this thread is left, the normal way otherwise (a
    thread still running gets the interpreter's usual shutdown, which waits for it)."""
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(THREAD_GRACE_SECONDS)
            if thread.is_alive():
                sys.exit(code)
    atexit._run_exitfuncs()  # what a normal exit runs: temporary files removed, child processes joined
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
