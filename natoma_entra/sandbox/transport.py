"""httpx transports over a GraphHandler, with fault injection (faults.py)."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Awaitable, Callable, Iterable

import httpx

from natoma_entra.interrupts import asyncio_answers_ctrl_c
from natoma_entra.sandbox.faults import Fault, error_parts
from natoma_entra.sandbox.graph import GraphHandler
from natoma_entra.sandbox.state import GraphFault, Tenant


class _Base:
    def __init__(self, handler: GraphHandler | Tenant | None = None, faults: Iterable[Fault] = ()):
        if handler is None or isinstance(handler, Tenant):
            handler = GraphHandler(handler)
        self.handler = handler
        self.tenant = handler.tenant
        self.faults: list[Fault] = list(faults)
        # every request as the client saw it, faults included: (method, path-with-query, status or "dropped")
        self.log: list[tuple[str, str, int | str]] = []
        # when each of them was sent and answered (time.monotonic(), injected latency included), same order as log:
        # what longest_chain() reads to count the round trips a run waited for one after the other
        self.spans: list[tuple[float, float]] = []

    def _plan(self, request: httpx.Request) -> tuple[float, Fault | None]:
        """Total injected latency and the first short-circuiting fault for this request."""
        delay, stop = 0.0, None
        path = request.url.path
        for f in self.faults:
            if f.kind == "latency":
                if f.check(request.method, path):
                    delay += f.seconds
            elif stop is None and f.check(request.method, path):
                stop = f
        return delay, stop

    def _record(self, method: str, target: str, status: int | str, start: float) -> None:
        self.log.append((method, target, status))
        self.spans.append((start, time.monotonic()))

    def _respond(self, request: httpx.Request, body: bytes, stop: Fault | None, start: float) -> httpx.Response:
        target = request.url.raw_path.decode("ascii", "replace")
        if stop is not None and stop.kind == "drop" and not stop.after:
            self._record(request.method, target, "dropped", start)
            raise httpx.ConnectError("Connection refused (sandbox fault injection)", request=request)
        if stop is not None and stop.kind in ("throttle", "error") and not stop.after:
            code, message, headers = error_parts(stop)
            status, hdrs, content = self.handler.handle_fault(GraphFault(stop.status, code, message, headers),
                                                              dict(request.headers),
                                                              request=(request.method, str(request.url), body))
            self._record(request.method, target, status, start)
            return httpx.Response(status, headers=hdrs, content=content, request=request)
        status, hdrs, content = self.handler.handle(request.method, str(request.url), dict(request.headers), body)
        if stop is not None and stop.kind == "error":  # after=True: applied, yet answered with an error (a 504)
            code, message, headers = error_parts(stop)
            status, hdrs, content = self.handler.handle_fault(GraphFault(stop.status, code, message, headers),
                                                              dict(request.headers), handled=True,
                                                              request=(request.method, str(request.url), body))
            self.log.append((request.method, target, status))
            return httpx.Response(status, headers=hdrs, content=content, request=request)
        if stop is not None and stop.kind == "interrupt":  # applied, then Ctrl-C where Python raises it (no asyncio)
            self.log.append((request.method, target, status))
            raise KeyboardInterrupt
        if stop is not None and stop.kind == "drop":
            self._record(request.method, target, "dropped", start)
            raise httpx.RemoteProtocolError("Server disconnected without sending a response (sandbox fault "
                                            "injection)", request=request)
        self._record(request.method, target, status, start)
        return httpx.Response(status, headers=hdrs, content=content, request=request)


class SandboxSyncTransport(_Base, httpx.BaseTransport):
    """``httpx.Client(transport=SandboxSyncTransport(handler_or_tenant, faults=[...]))``."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        start = time.monotonic()
        body = request.read()
        delay, stop = self._plan(request)
        if delay:
            time.sleep(delay)
        return self._respond(request, body, stop, start)


class SandboxTransport(_Base, httpx.AsyncBaseTransport):
    """``httpx.AsyncClient(transport=SandboxTransport(handler_or_tenant, faults=[...]))``. With `sleep` (a simulated
    clock's), injected latency passes on that clock: Graph's answers take simulated time, as the run's waits do."""

    def __init__(self, handler: GraphHandler | Tenant | None = None, faults: Iterable[Fault] = (),
                 sleep: Callable[[float], Awaitable[None]] | None = None):
        super().__init__(handler, faults)
        self.sleep = sleep or asyncio.sleep

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        start = time.monotonic()
        body = await request.aread()
        delay, stop = self._plan(request)
        if delay:
            await self.sleep(delay)
        if stop is not None and stop.kind == "interrupt" and asyncio_answers_ctrl_c():
            # applied, then Ctrl-C while the answer is on its way: a real SIGINT, which asyncio.run answers by
            # cancelling the run's task; the cancellation lands where the run next waits (natoma_entra/interrupts.py)
            response = self._respond(request, body, None, start)
            signal.raise_signal(signal.SIGINT)
            await asyncio.sleep(0)
            return response
        return self._respond(request, body, stop, start)


def longest_chain(spans: Iterable[tuple[float, float]]) -> int:
    """The longest chain of requests each sent after the one before it was answered: the round trips a run waited for
    one after the other (requests in flight together count once). Meaningful under injected latency, which keeps
    concurrent requests overlapping."""
    return len(chain_path(list(spans)))


def chain_path(spans: list[tuple[float, float]]) -> list[int]:
    """The indices (into spans, so into the log) of one longest chain, first request first."""
    import bisect

    order = sorted(range(len(spans)), key=lambda i: spans[i][1])
    ends = [spans[i][1] for i in order]
    best: list[int] = []  # best[k]: the longest chain ending with order[k]
    upto: list[int] = []  # upto[k]: the position (in order) of the longest chain among order[:k + 1]
    prev: list[int | None] = []
    for k, i in enumerate(order):
        j = bisect.bisect_right(ends, spans[i][0], 0, k)  # requests answered before this one was sent
        before = upto[j - 1] if j else None
        best.append(1 + (best[before] if before is not None else 0))
        prev.append(before)
        upto.append(k if not upto or best[k] > best[upto[-1]] else upto[-1])
    path: list[int] = []
    at: int | None = upto[-1] if upto else None
    while at is not None:
        path.append(order[at])
        at = prev[at]
    return path[::-1]
