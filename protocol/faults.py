"""Fault injection for the crash tests: FEDCHAIN_FAULT=<point>:<seconds> pauses at that point,
so a test can kill the process exactly there. Unset in normal use: then it does nothing."""

from __future__ import annotations

import os
import sys
import time

FAULT_ENVIRONMENT_VARIABLE = "FEDCHAIN_FAULT"


def pause_if_asked(point: str) -> None:
    name, _, seconds = os.environ.get(FAULT_ENVIRONMENT_VARIABLE, "").partition(":")
    if name == point:
        print(f"fault injection: pausing at {point}", file=sys.stderr, flush=True)
        time.sleep(float(seconds or 30))
