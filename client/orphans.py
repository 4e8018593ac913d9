"""Worker processes that end with the process that started them, however it ends.

Ctrl-C in a terminal signals the whole process group: a worker that took the SIGINT as a
KeyboardInterrupt would report it as its task's error and wait for more work, and a parent that
exits at once (cli/stopping.py) leaves it waiting forever, holding its memory and, with it, the
multiprocessing resource tracker. So a worker ignores SIGINT (its parent decides when to stop)
and asks the kernel to kill it when its parent goes away.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def end_with_parent(parent: int) -> None:
    """Called first thing in a worker process started by `parent` (its PID)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
