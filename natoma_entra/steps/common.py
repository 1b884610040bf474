"""What the steps share: waiting for Graph to catch up, and turning a GraphError into a failed step."""
from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from ..graph.errors import GraphError
from ..results import StepResult

# Seconds between polls while Graph replicates (new roles on the service principal, a new job becoming readable).
POLL_DELAYS = (0.2, 0.5, 1, 2, 3, 5, 5, 8, 10, 15, 20)  # about 70 s in all


async def wait_until(check: Callable[[], Awaitable[bool]], delays=None) -> bool:
    """True once check() is true; False when the delays run out. check() runs once before the first delay."""
    delays = POLL_DELAYS if delays is None else delays  # read at call time, so tests can shorten it
    if await check():
        return True
    for d in delays:
        await asyncio.sleep(d)
        if await check():
            return True
    return False


# What Graph answers for an object created moments ago that has not replicated yet (Terraform's azuread provider
# retries synchronization calls on 403 and 409 for the same reason; graph-api.md sections 1 and 14).
REPLICATING = (403, 404, 409)


async def until_readable(read: Callable[[], Awaitable], delays=None, *, say: Callable[[str], None] | None = None,
                         what: str = "the new object"):
    """read()'s value once it stops answering 403/404/409; the last such GraphError when the delays run out. The
    first replication answer is said (`say`), with the bound of the wait."""
    got: list = []
    last: list[GraphError] = []

    async def check() -> bool:
        try:
            got[:] = [await read()]
            return True
        except GraphError as e:
            if e.status not in REPLICATING:
                raise
            if not last and say is not None:
                bound = sum(POLL_DELAYS if delays is None else delays)
                say(f"{what}: Graph answered {e.status} while it replicates; retrying for at most {bound:g} s...")
            last[:] = [e]
            return False

    if not await wait_until(check, delays):
        raise last[0]
    return got[0]


def failed(step: str, err: GraphError, changes=None, what: str | None = None) -> StepResult:
    return StepResult(step=step, status="failed", changes=changes or [],
                      error=(f"{what}: " if what else "") + err.headline,
                      fix=err.fix)
