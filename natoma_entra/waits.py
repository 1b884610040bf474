"""How long a run waits for Graph to catch up after a write (replication), and how often it looks again.

Handed to each run by its backend (to its GraphClient, which waits out replication answers on this schedule:
graph/retry.py, and to its Session, which polls state on it: steps/common.wait_until), so a test's backend can make
the waits instant without patching modules."""
from __future__ import annotations

from dataclasses import dataclass

# Seconds between polls while Graph replicates (new roles on the service principal, a new job becoming readable).
POLL_DELAYS = (0.2, 0.5, 1, 2, 3, 5, 5, 8, 10, 15, 20)  # about 70 s in all


@dataclass(frozen=True)
class Waits:
    poll: tuple[float, ...] = POLL_DELAYS  # between looks while Graph replicates

    @property
    def bound(self) -> float:
        """The longest a replication wait lasts (said when it starts)."""
        return float(sum(self.poll))
