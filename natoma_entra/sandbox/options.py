"""The knobs of one sandbox, passed in by whoever opens it (a test, a benchmark, `--sandbox`): never process globals."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SandboxOptions:
    """How the simulated tenant behaves, beyond its data.

    - ``faults``: fault rules (sandbox/faults.py) applied by the transport: latency, 429, 5xx, dropped connections.
    - ``sp_role_lag``: reads of a service principal before roles PATCHed onto its application show on it.
    - ``denied_permissions``: Graph permissions the caller lacks (routes needing one answer 403).
    """

    faults: list[Any] = field(default_factory=list)
    sp_role_lag: int = 0
    denied_permissions: set[str] = field(default_factory=set)

    def tenant_options(self) -> dict[str, Any]:
        return {"sp_role_lag": self.sp_role_lag, "denied_permissions": set(self.denied_permissions)}
