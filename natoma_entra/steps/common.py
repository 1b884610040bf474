"""What the steps share: waiting for Graph to catch up, and turning a GraphError into a failed step."""
from __future__ import annotations

from typing import TYPE_CHECKING, Awaitable, Callable, Iterable, TypeVar

from ..graph.errors import GraphError
from ..results import Change, StepResult

if TYPE_CHECKING:
    from ..session import Session

T = TypeVar("T")


async def wait_until(session: "Session", check: Callable[[], Awaitable[bool]]) -> bool:
    """True once check() is true; False when the run's replication waits run out. check() runs once first."""
    if await check():
        return True
    for d in session.waits.poll:
        await session.clock.sleep(d)
        if await check():
            return True
    return False


# What Graph answers for an object created moments ago that has not replicated yet (Terraform's azuread provider
# retries synchronization calls on 403 and 409 for the same reason: internal/services/synchronization/
# synchronization.go, synchronizationRetryFunc).
REPLICATING = (403, 404, 409)


async def until_readable(session: "Session", read: Callable[[], Awaitable[T]], *, what: str = "the new object") -> T:
    """read()'s value once it stops answering 403/404/409; the last such GraphError when the waits run out. The
    first replication answer is said, with the bound of the wait."""
    got: list[T] = []
    last: list[GraphError] = []

    async def check() -> bool:
        try:
            got[:] = [await read()]
            return True
        except GraphError as e:
            if e.status not in REPLICATING:
                raise
            if not last:
                session.progress(f"{what}: Graph answered {e.status} while it replicates; retrying for at most "
                                 f"{session.waits.bound:g} s...")
            last[:] = [e]
            return False

    if not await wait_until(session, check):
        raise last[0]
    return got[0]


def failed(step: str, err: GraphError, changes: Iterable[Change] | None = None, what: str | None = None) -> StepResult:
    return StepResult(step=step, status="failed", changes=list(changes or []),
                      error=(f"{what}: " if what else "") + err.headline, fix=err.fix)
