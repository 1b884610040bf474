"""Fault injection rules for the sandbox transports.

A rule matches requests by method and a regex searched in the URL path (``None`` matches all). It starts firing on
the ``nth`` matching request and fires ``count`` times (``None``: for ever), then stops. Kinds:

- ``latency(seconds)``: delay the request (``asyncio.sleep`` in the async transport, ``time.sleep`` in the sync one),
  then let it through; other rules still apply.
- ``throttle(retry_after)``: answer 429 with ``Retry-After`` and Graph's error body, without reaching the tenant.
- ``server_error(status)``: answer a 5xx (503/504 carry ``Retry-After`` when given), without reaching the tenant.
- ``interrupt()``: the tenant handles the request, then Ctrl-C: a real SIGINT to the process (asyncio.run cancels
  the run's task), or KeyboardInterrupt where no asyncio handler is in place (the sync transport).
- ``drop(after=False)``: raise ``httpx.ConnectError`` before the tenant sees the request; with ``after=True`` the
  tenant handles it (state changes) and the response is lost (``httpx.RemoteProtocolError``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class Fault:
    kind: str  # "latency" | "throttle" | "error" | "drop" | "interrupt"
    method: str | None = None
    path: str | None = None
    nth: int = 1
    count: int | None = 1
    seconds: float = 0.0
    status: int = 503
    retry_after: float | None = None
    after: bool = False
    seen: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or re.search(self.path, path) is not None

    def check(self, method: str, path: str) -> bool:
        """Count a request; True when this rule fires for it."""
        if not self.matches(method, path):
            return False
        self.seen += 1
        if self.seen < self.nth or (self.count is not None and self.fired >= self.count):
            return False
        self.fired += 1
        return True


def latency(seconds: float, *, method: str | None = None, path: str | None = None, nth: int = 1,
            count: int | None = None) -> Fault:
    return Fault("latency", method, path, nth, count, seconds=seconds)


def throttle(retry_after: float = 1, *, method: str | None = None, path: str | None = None, nth: int = 1,
             count: int | None = 1) -> Fault:
    return Fault("throttle", method, path, nth, count, status=429, retry_after=retry_after)


def server_error(status: int = 503, *, retry_after: float | None = None, method: str | None = None,
                 path: str | None = None, nth: int = 1, count: int | None = 1, after: bool = False) -> Fault:
    """A 5xx; with after=True the tenant applies the request first (a gateway timing out on a write that went
    through)."""
    return Fault("error", method, path, nth, count, status=status, retry_after=retry_after, after=after)


def interrupt(*, method: str | None = None, path: str | None = None, nth: int = 1, count: int | None = 1) -> Fault:
    """The tenant applies the request, then the person presses Ctrl-C (mid-run): transport.py delivers it."""
    return Fault("interrupt", method, path, nth, count, after=True)


def drop(*, after: bool = False, method: str | None = None, path: str | None = None, nth: int = 1,
         count: int | None = 1) -> Fault:
    return Fault("drop", method, path, nth, count, after=after)


_CODES = {429: ("TooManyRequests", "Too many requests."), 500: ("InternalServerError", "Internal server error."),
          502: ("BadGateway", "Bad gateway."), 503: ("ServiceUnavailable", "Service unavailable."),
          504: ("GatewayTimeout", "Gateway timeout.")}


def error_parts(fault: Fault) -> tuple[str, str, dict[str, str]]:
    code, message = _CODES.get(fault.status, ("UnknownError", "Error."))
    headers = {}
    if fault.retry_after is not None:
        ra = fault.retry_after
        headers["Retry-After"] = str(int(ra)) if float(ra).is_integer() else str(ra)
    return code, message, headers
