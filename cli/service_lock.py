"""One organization service per home: a second one would act on the same rounds (it aborted the
first one's open round without a word). The lock is an flock on a file in the home, released by
the kernel however the holder ends; the file names the holder so that a refusal can say who."""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from protocol.errors import UserError

HOLDER_MAX_BYTES = 4096  # what is read back of the holder's line


@contextmanager
def sole_service(lock_file: Path, what: str) -> Iterator[None]:
    """Held for the life of the block; refused at once, naming the holder, when another process holds it."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read(HOLDER_MAX_BYTES).strip() or "a process that is still starting"
            raise UserError(f"another {what} already runs on {lock_file.parent} ({holder}; lock {lock_file}): "
                            "stop it first, or give this one another --home") from None
        handle.truncate(0)
        handle.write(f"PID {os.getpid()}: {' '.join(sys.argv)}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)
