"""The knobs of one sandbox, passed in by whoever opens it (a test, a benchmark, `--sandbox`): never process globals."""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SimulatedClock:
    """Simulated time for a sandbox and the code under test: sleep() advances it at once (no real waiting)."""

    t: float = 0.0
    epoch: _dt.datetime = _dt.datetime(2026, 1, 5, 9, 0, tzinfo=_dt.timezone.utc)

    def monotonic(self) -> float:
        return self.t

    def now(self) -> _dt.datetime:
        return self.epoch + _dt.timedelta(seconds=self.t)

    def advance(self, seconds: float) -> None:
        self.t += max(0.0, float(seconds))

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)


@dataclass
class SandboxOptions:
    """How the simulated tenant behaves, beyond its data.

    - ``faults``: fault rules (sandbox/faults.py) applied by the transport: latency, 429, 5xx, dropped connections.
    - ``sp_role_lag``: reads of a service principal before roles PATCHed onto its application show on it.
    - ``denied_permissions``: Graph permissions the caller lacks (routes needing one answer 403).
    - ``clock``: a SimulatedClock driving the tenant's time (rate limits, timestamps, a cycle's progress); the CLI
      then paces and waits on it too, so nothing really sleeps. None: real time.
    - ``cycle_seconds_per_user``: how long (simulated) a provisioning cycle spends per user in scope; 0: a cycle
      ends the moment it starts.
    """

    faults: list[Any] = field(default_factory=list)
    sp_role_lag: int = 0
    denied_permissions: set[str] = field(default_factory=set)
    clock: SimulatedClock | None = None
    cycle_seconds_per_user: float = 0.0

    def tenant_options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"sp_role_lag": self.sp_role_lag, "denied_permissions": set(self.denied_permissions)}
        if self.clock is not None:
            opts.update(clock=self.clock.monotonic, now=self.clock.now)
        return opts
