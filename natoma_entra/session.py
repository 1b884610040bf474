"""One run: the Graph client, the desired state, and the reads already made (so no step repeats another's read)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from .config import Config
from .graph.client import GraphClient
from .graph.lookups import App, find_app


@dataclass
class Session:
    graph: GraphClient
    config: Config
    dry_run: bool = False
    progress: Callable[[str], None] = lambda msg: None  # the CLI shows these on stderr
    scim_token: Callable[[], str | None] = lambda: None  # asked for only by the step that needs it
    options: dict[str, Any] = field(default_factory=dict)  # per-command options (prune, replace, rotate, ...)
    _cache: dict[str, Any] = field(default_factory=dict)

    async def cached(self, key: str, read: Callable[[], Awaitable[Any]]) -> Any:
        """A read made once per run; a step that writes the thing calls forget(key)."""
        if key not in self._cache:
            self._cache[key] = await read()
        return self._cache[key]

    def peek(self, key: str, default: Any = None) -> Any:
        """What an earlier step read or planned, without reading."""
        return self._cache.get(key, default)

    def remember(self, key: str, value: Any) -> None:
        self._cache[key] = value

    def forget(self, *keys: str) -> None:
        for k in keys:
            self._cache.pop(k, None)

    async def app(self) -> App:
        from .graph.errors import UsageError

        if not self.config.app:
            raise UsageError("no app given", fix="pass --app NAME|APPID|OBJECTID or set app = \"...\" in the config file")
        return await self.cached("app", lambda: find_app(self.graph, self.config.app))
