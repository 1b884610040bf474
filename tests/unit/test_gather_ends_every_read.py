"""Issue 26: reads that go out together all end before the first error is raised (GraphClient.gather and the
executor's reads), so a usage error found by one read while the others are in flight is one line, not a trail of
tasks cut short when the run ends."""
from __future__ import annotations

import asyncio

import pytest

from natoma_entra.errors import UsageError
from natoma_entra.graph.auth import StaticTokenCredential
from natoma_entra.graph.client import GraphClient


def test_gather_lets_the_slower_reads_end_before_it_raises_the_first_error() -> None:
    ended: list[str] = []

    async def bad() -> None:
        raise UsageError("no group named 'Nobody'")

    async def slow(name: str, ticks: int) -> str:
        for _ in range(ticks):
            await asyncio.sleep(0)
        ended.append(name)
        return name

    async def main() -> None:
        graph = GraphClient(StaticTokenCredential("fake-access-token"), "https://graph.microsoft.com/v1.0")
        try:
            with pytest.raises(UsageError, match="Nobody"):
                await graph.gather(slow("groups", 5), bad(), slow("assignments", 20))
            # nothing of the gather is left running when the error is raised
            assert sorted(ended) == ["assignments", "groups"]
            assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
        finally:
            await graph.close()

    asyncio.run(main())
