"""One run: the Graph client, the desired state, and the reads already made (so no read is made twice in a run)."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from .config import Config
from .graph.client import GraphClient
from .graph.lookups import App, find_app
from .steps.base import Options


@dataclass
class Session:
    graph: GraphClient
    config: Config
    options: Options = field(default_factory=Options)
    progress: Callable[[str], None] = lambda msg: None  # the CLI shows these on stderr
    scim_token: Callable[[], str | None] = lambda: None  # asked for only by the step that needs it
    # how Natoma's SCIM endpoint is reached: (url, token) -> an httpx client; None means over the network.
    # The sandbox answers in process.
    scim_http: Callable[[str, str], Any] | None = None
    command_options: dict[str, Any] = field(default_factory=dict)  # a command's own inputs (provision's user, ...)
    _cache: dict[str, asyncio.Future] = field(default_factory=dict)

    async def cached(self, key: str, read: Callable[[], Awaitable[Any]]) -> Any:
        """A read made once per run, even when two steps ask for it at the same time (their reads run together)."""
        fut = self._cache.get(key)
        if fut is None:
            fut = self._cache[key] = asyncio.ensure_future(read())
        try:
            return await asyncio.shield(fut)
        except BaseException:
            if self._cache.get(key) is fut and fut.done():
                self._cache.pop(key, None)  # a failed read may be tried again (a retry after replication)
            raise

    def known(self, key: str, value: Any) -> None:
        """What a write just made (the new job, the schema as written): later reads in this run see it."""
        fut = asyncio.get_event_loop().create_future()
        fut.set_result(value)
        self._cache[key] = fut

    def forget(self, *keys: str) -> None:
        for k in keys:
            self._cache.pop(k, None)

    async def app(self) -> App:
        from .graph.errors import UsageError

        if not self.config.app:
            raise UsageError("no app given", fix="pass --app NAME|APPID|OBJECTID or set app = \"...\" in the config file")
        return await self.cached("app", lambda: find_app(self.graph, self.config.app))
