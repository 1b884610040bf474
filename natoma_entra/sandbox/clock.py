"""A virtual clock for the sandbox's time-based behaviours (role copy lag, replication, rate limits).

Tests hand it to the tenant (``SandboxOptions(clock=clock)``) and let the CLI's waits advance it instead of sleeping
(``monkeypatch.setattr(asyncio, "sleep", clock.sleep)``): a 20-second replication delay then costs no real time, and
the CLI still has to wait it out.
"""
from __future__ import annotations

import asyncio

from .options import SimulatedClock

_REAL_SLEEP = asyncio.sleep


class VirtualClock(SimulatedClock):
    """The SimulatedClock, counting the waits made on it, and yielding to the event loop on each."""

    def __init__(self, start: float = 1000.0):
        super().__init__(t=float(start))
        self.slept: list[float] = []  # every wait the CLI made, in order

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float, result=None):
        self.slept.append(float(seconds))
        self.advance(seconds)
        await _REAL_SLEEP(0)
        return result
