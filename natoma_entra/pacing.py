"""The executor's pacing policy: requests a rate limit applies to wait their turn before they are sent.

Provision on demand allows 5 requests per 10 seconds per job (Microsoft Graph docs
synchronization-synchronizationjob-provisionondemand.md, "throttling"), so a group is provisioned without 429s."""
from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable

# operation kind -> (requests, window in seconds)
RATE_LIMITS: dict[str, tuple[int, float]] = {"provision-on-demand": (5, 10.0)}
RATE_LIMIT, RATE_WINDOW = RATE_LIMITS["provision-on-demand"]


class Pacer:
    """At most `limit` requests in any `window` seconds: wait() sleeps until the next one may go. Clock and sleep are
    the run's (a simulated clock makes the pacing instant and still exact)."""

    def __init__(self, limit: int = RATE_LIMIT, window: float = RATE_WINDOW, *,
                 clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None):
        self.limit, self.window = limit, window
        self.clock = clock or time.monotonic
        self.sleep = sleep or asyncio.sleep
        self.sent: list[float] = []

    def delay(self) -> float:
        now = self.clock()
        self.sent = [t for t in self.sent if now - t < self.window]
        return 0.0 if len(self.sent) < self.limit else self.window - (now - self.sent[0])

    async def wait(self) -> float:
        waited = 0.0
        while (d := self.delay()) > 0:
            await self.sleep(d)
            waited += d
        self.sent.append(self.clock())
        return waited
