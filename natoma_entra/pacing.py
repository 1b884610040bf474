"""The executor's pacing policy: requests a rate limit applies to wait their turn before they are sent, within the
run's time budget (--timeout).

Provision on demand allows 5 requests per 10 seconds per job (Microsoft Graph docs
synchronization-synchronizationjob-provisionondemand.md, "throttling"), so a group is provisioned without 429s.
Pacing counts against the run's budget like every other wait: a batch that cannot fit the budget at that rate is
said before anything is sent (at_least), and a request whose turn comes after the budget ends is not sent
(OutOfTime) rather than sent late or failed one by one."""
from __future__ import annotations

import asyncio
import math
import time
from typing import Any, Awaitable, Callable, Iterable

from .errors import NatomaEntraError

# operation kind -> (requests, window in seconds)
RATE_LIMITS: dict[str, tuple[int, float]] = {"provision-on-demand": (5, 10.0)}
RATE_LIMIT, RATE_WINDOW = RATE_LIMITS["provision-on-demand"]
# what n operations of a kind are, in a sentence ("40 users to provision on demand")
RATE_NOUNS: dict[str, str] = {"provision-on-demand": "users to provision on demand"}


class OutOfTime(NatomaEntraError):
    """The next request's turn comes after the run's budget ends: it is not sent (nor are the ones after it)."""

    def __init__(self, wait: float, left: float):
        super().__init__(f"its turn came in {wait:.0f} s, with {left:.0f} s left" if wait > 0 and left > 0
                         else "the budget had ended")
        self.wait, self.left = wait, left


def enough(kinds: Iterable[str], *, per_request: float = 0.0, spent: float = 0.0) -> int:
    """A --timeout that lets these operations go at their rate limits (pure): the time already spent, the pacing
    floor or each request's time (per_request, as measured on the run's reads so far), whichever is longer, and 10 s
    to spare; rounded up to ten seconds."""
    kinds = list(kinds)
    n = sum(1 for k in kinds if k in RATE_LIMITS)
    need = max(at_least(kinds) + per_request, n * per_request)
    return math.ceil((spent + need + 10.0) / 10.0) * 10


def at_least(kinds: Iterable[str]) -> float:
    """The least time the operations of these kinds take at their rate limits (pure): each full window before the
    last batch of `limit`, whatever Graph's answers take (they only add to it)."""
    counts: dict[str, int] = {}
    for kind in kinds:
        if kind in RATE_LIMITS:
            counts[kind] = counts.get(kind, 0) + 1
    return sum((math.ceil(n / RATE_LIMITS[k][0]) - 1) * RATE_LIMITS[k][1] for k, n in counts.items())


def per_request(graph: Any) -> float:
    """Seconds a request of this run has taken on average, the waits between them included (0 before the first),
    on a GraphClient: the measure of Graph's own time that the pacing floor does not count."""
    spent = graph.deadline - graph.remaining()
    return float(spent / len(graph.requests)) if graph.requests else 0.0


class Pacer:
    """At most `limit` requests in any `window` seconds: wait() sleeps until the next one may go. Clock and sleep are
    the run's (a simulated clock makes the pacing instant and still exact). With `left` (the seconds left of the
    run's budget), a turn that comes after the budget ends raises OutOfTime instead of waiting for it."""

    def __init__(self, limit: int = RATE_LIMIT, window: float = RATE_WINDOW, *,
                 clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None,
                 left: Callable[[], float] | None = None):
        self.limit, self.window = limit, window
        self.clock = clock or time.monotonic
        self.sleep = sleep or asyncio.sleep
        self.left = left
        self.sent: list[float] = []

    def delay(self) -> float:
        now = self.clock()
        self.sent = [t for t in self.sent if now - t < self.window]
        return 0.0 if len(self.sent) < self.limit else self.window - (now - self.sent[0])

    async def wait(self) -> float:
        waited = 0.0
        while (d := self.delay()) > 0:
            self._fits(d)
            await self.sleep(d)
            waited += d
        self._fits(0.0)
        self.sent.append(self.clock())
        return waited

    def _fits(self, wait: float) -> None:
        if self.left is None:
            return
        left = self.left()
        if wait >= left or left <= 0:
            raise OutOfTime(wait, left)
