"""What both services' web nodes share: the chain link, the content store, one background job at a
time, the outage report and an automatic loop that a switch on the page turns on and off."""

from __future__ import annotations

import contextlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

from chain.contract import SecurePhases
from storage.store import ContentStore
from webui.errors import readable
from webui.jobs import JobRunner
from webui.link import ChainLink, store_problem


def deadline_view(deadline: int, block: int, is_open: bool = True) -> dict[str, Any]:
    """Where a round stands against its deadline: once the current block has reached it no update
    can land any more (the next block is past it), and a round still open is overdue."""
    return {"deadline": deadline, "blocks_left": max(0, deadline - block), "overdue": is_open and block >= deadline}


PHASES = ("join", "share", "submit", "review", "reveal")


def phases_view(phases: SecurePhases, submissions: int, block: int, is_open: bool = True) -> dict[str, Any]:
    """Where a secure round stands: each phase's last block and blocks left, the phase the chain is
    in (the review starts early once the whole masking set submitted, the reveal once the
    organization ended the review, as the contract allows; none once the round is closed) and the
    counters of joins, share posts, exclusions and reveals against the threshold."""
    deadlines = phases.deadlines.as_list()
    current = next((name for name, end in zip(PHASES, deadlines, strict=True) if block <= end), "over")
    if current == "share" and phases.shares_over(block):
        current = "submit"
    if current == "submit" and phases.submissions_over(submissions, block) and phases.shared:
        current = "review"
    if current == "review" and phases.review_ended:
        current = "reveal"
    if not is_open:
        current, block = "over", max(block, deadlines[-1])
    return {"phase": current, "threshold": phases.threshold, "joined": phases.joined, "shared": phases.shared,
            "submitted": submissions, "excluded": phases.excluded, "revealed": phases.revealed,
            "phases": [{"name": name, "deadline": end, "blocks_left": max(0, end - block), "current": name == current}
                       for name, end in zip(PHASES, deadlines, strict=True)]}


class ServiceNode(ABC):
    automatic: ClassVar[str]  # what the automatic loop does, for messages

    def __init__(self, link: ChainLink, store: ContentStore, poll_seconds: float,
                 log: Callable[[str], None]) -> None:
        self.link = link
        self.store = store
        self.poll_seconds = poll_seconds
        self.jobs = JobRunner()
        self.auto = False
        self.auto_error: str | None = None
        self.last_line = ""
        self._print = log
        self._stop = threading.Event()
        self._last_view: dict[str, Any] = {}

    def log(self, line: str) -> None:
        """The service's log: printed, and shown as the running job's progress."""
        self.last_line = line
        self._print(line)
        self.jobs.note(line)

    def problems(self) -> list[str]:
        chain, ipfs = self.link.problem(), store_problem(self.store)
        return [text for text in (f"Chain unreachable: {chain}" if chain else None,
                                  f"IPFS unreachable: {ipfs}" if ipfs else None, self.auto_error) if text]

    def base_status(self) -> tuple[dict[str, Any], int | None]:
        """The part of /api/status both apps share, and the current block (None while the chain is down)."""
        problems = self.problems()
        view: dict[str, Any] = {"account": self.link.account.address, "problems": problems, "auto": self.auto,
                                "job": self.jobs.current.to_json() if self.jobs.current else None, "chain": None}
        if any(problem.startswith("Chain") for problem in problems):
            return view, None
        web3 = self.link.chain().web3
        block = web3.eth.block_number
        view["chain"] = {"name": self.link.chain().name, "chain_id": web3.eth.chain_id, "block": block}
        return view, block

    def remember(self, view: dict[str, Any]) -> dict[str, Any]:
        """Keep the view of a good moment, for `last_known` during an outage."""
        self._last_view = dict(view)
        return view

    def last_known(self, view: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
        """While the chain does not answer: `keys` as last seen, and `stale` so the page says so."""
        if self._last_view:
            view.update({key: self._last_view.get(key) for key in keys}, stale=True,
                        last_block=(self._last_view.get("chain") or {}).get("block"))
        return view

    def set_auto(self, enabled: bool) -> str:
        self.auto, self.auto_error = enabled, None
        return f"automatic {self.automatic}: {'on' if enabled else 'off'}"

    def start(self) -> None:
        threading.Thread(target=self._auto_loop, name=f"automatic {self.automatic}", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _auto_loop(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            if self.jobs.busy:
                continue
            if not self.auto:
                with contextlib.suppress(Exception):  # an outage shows in the banner already; next poll retries
                    self.idle_tick()
                continue
            try:
                self.auto_tick()
                self.auto_error = None
            except Exception as error:  # shown in the banner; the loop tries again on the next tick
                self.auto_error = f"Automatic {self.automatic}: {readable(error)}"

    def idle_tick(self) -> None:  # noqa: B027 - optional hook: most nodes do nothing while idle
        """One poll while the automatic loop is off (nothing by default)."""

    @abstractmethod
    def auto_tick(self) -> None:
        """One look at the chain by the automatic loop."""
