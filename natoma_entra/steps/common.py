"""What the steps share: polling Graph's state until it shows a write, and turning a GraphError into a failed step."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable

from ..graph.errors import GraphError
from ..results import Change, StepResult

if TYPE_CHECKING:
    from ..session import Session


async def wait_until(session: "Session", check: Callable[[], Awaitable[bool]]) -> bool:
    """True once check() is true; False when the run's replication waits run out. check() runs once first.

    For polling STATE only (the roles showing on the service principal, a started job reading running, a new object
    showing in a list): an error answer is never retried here; the Graph client waits out the answers Graph gives
    while it is busy or replicating (graph/retry.py)."""
    if await check():
        return True
    for d in session.waits.poll:
        await session.clock.sleep(d)
        if await check():
            return True
    return False


async def made_after_all(session: "Session", find: Callable[[], Awaitable[Any]], what: str) -> Any:
    """The re-read made before a create is sent again after an answer that may hide it (a 503/504, a lost answer:
    graph/retry.py): the object once it shows, None when it has not shown by the end of the run's replication waits
    (a new object can be listed late). Only then is the create sent again, so Graph never makes a twin."""
    session.progress(f"{what}: Graph's answer was lost; looking for what it may have made before asking again (at "
                     f"most {session.waits.bound:g} s)...")
    found: list[Any] = []

    async def check() -> bool:
        obj = await find()
        found[:] = [obj] if obj is not None else []
        return bool(found)

    return found[0] if await wait_until(session, check) else None


def failed(step: str, err: GraphError, changes: Iterable[Change] | None = None, what: str | None = None) -> StepResult:
    return StepResult(step=step, status="failed", changes=list(changes or []),
                      error=(f"{what}: " if what else "") + err.headline, fix=err.fix)
