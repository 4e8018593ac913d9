"""One background task at a time (training, aggregating), so the page stays usable meanwhile."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from webui.errors import Busy, readable

Work = Callable[[], str]


@dataclass
class Job:
    name: str
    message: str
    state: str = "running"  # running | done | failed
    started: float = field(default_factory=time.time)
    finished: float | None = None

    def to_json(self) -> dict[str, Any]:
        end = self.finished or time.time()
        return {"name": self.name, "state": self.state, "message": self.message,
                "started": self.started, "seconds": round(end - self.started, 1)}


class JobRunner:
    """Runs `work` in a thread; its return value or readable error becomes the job's last message."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._job: Job | None = None
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        return self._job is not None and self._job.state == "running"

    @property
    def current(self) -> Job | None:
        return self._job

    def require_idle(self) -> None:
        if self.busy and self._job is not None:
            raise Busy(f"{self._job.name} is still running: wait until it finishes")

    def start(self, name: str, message: str, work: Work) -> Job:
        with self._lock:
            self.require_idle()
            job = self._job = Job(name, message)
            self._thread = threading.Thread(target=self._run, args=(job, work), name=name, daemon=True)
            self._thread.start()
        return job

    def note(self, message: str) -> None:
        """Progress from inside the work (for example the service's log lines)."""
        if self.busy and self._job is not None:
            self._job.message = message

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @staticmethod
    def _run(job: Job, work: Work) -> None:
        try:
            job.message, job.state = work(), "done"
        except Exception as error:  # reported to the user as the job's outcome
            job.message, job.state = readable(error), "failed"
        job.finished = time.time()
