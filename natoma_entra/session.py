"""One run: what the backend handed it (the Graph client, the SCIM connector, the clock and the waits), the config,
where the SCIM token comes from, and the reads already made (so no read is made twice in a run)."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, TypeVar

from .clock import Clock, SystemClock
from .config import Config
from .graph.client import GraphClient
from .graph.lookups import App, find_app
from .waits import Waits

if TYPE_CHECKING:
    from .natoma_scim import ScimFactory

T = TypeVar("T")


def _no_token() -> str:
    from .errors import MissingInput

    raise MissingInput("no SCIM token given", fix="set NATOMA_SCIM_TOKEN, or pass --scim-token-file PATH or "
                                                  "--scim-token-stdin")


@dataclass
class Session:
    graph: GraphClient
    config: Config
    clock: Clock = field(default_factory=SystemClock)
    waits: Waits = field(default_factory=Waits)
    # how Natoma's SCIM endpoint is reached: (url, token) -> a scim2-client client (the backend's connector)
    scim: "ScimFactory | None" = None
    scim_token: Callable[[], str] = _no_token  # read only by the step that needs it (MissingInput when none)
    progress: Callable[[str], None] = lambda msg: None  # the CLI shows these on stderr
    # --create-app: the app this run creates, planned against until it exists (the executor sets and clears it)
    planned_app: App | None = None
    _cache: dict[str, asyncio.Future[Any]] = field(default_factory=dict)

    async def cached(self, key: str, read: Callable[[], Awaitable[T]]) -> T:
        """A read made once per run, even when two steps ask for it at the same time (their reads run together)."""
        fut = self._cache.get(key)
        if fut is None:
            fut = self._cache[key] = asyncio.ensure_future(read())
        try:
            value: T = await asyncio.shield(fut)  # the cache holds what read() returns
            return value
        except BaseException:
            if self._cache.get(key) is fut and fut.done():
                self._cache.pop(key, None)  # a failed read may be tried again (a retry after replication)
            raise

    def known(self, key: str, value: Any) -> None:
        """What a write just made (the new job, the schema as written): later reads in this run see it."""
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(value)
        self._cache[key] = fut

    def forget(self, *keys: str) -> None:
        for k in keys:
            self._cache.pop(k, None)

    def forget_all(self) -> None:
        self._cache.clear()

    def reads(self) -> dict[str, Any]:
        """Every read of this run that answered, by its key (what a saved plan depends on: fingerprints.py)."""
        return {k: f.result() for k, f in self._cache.items()
                if f.done() and not f.cancelled() and f.exception() is None}

    async def app(self) -> App:
        """The Natoma app (AppNotFound, a UsageError, when no app has the name; under --create-app the app this run
        creates, a planned App, until it exists)."""
        from .errors import UsageError

        if self.planned_app is not None:
            return self.planned_app
        if not self.config.app:
            raise UsageError("no app given", fix="pass --app NAME|APPID|OBJECTID or set app = \"...\" in the config file")
        ref = self.config.app
        return await self.cached("app", lambda: find_app(self.graph, ref))
