"""Time as a run sees it: a monotonic clock for budgets and pacing, the wall clock for "since when", and sleep.

The backend (natoma_entra/backend.py) hands each run its clock: the system's for a real tenant, the sandbox's
simulated one when a test or benchmark gives it one (nothing then really sleeps, and the tenant's own time-based
behaviours move with the CLI's waits)."""
from __future__ import annotations

import datetime as _dt
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def now(self) -> _dt.datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The machine's clocks and asyncio's sleep."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> _dt.datetime:
        return _dt.datetime.now(_dt.timezone.utc)

    async def sleep(self, seconds: float) -> None:
        import asyncio

        await asyncio.sleep(max(0.0, seconds))
