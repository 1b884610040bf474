"""httpx transports over a GraphHandler, with fault injection (faults.py)."""

from __future__ import annotations

import asyncio
import time
from typing import Iterable

import httpx

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

    def _respond(self, request: httpx.Request, body: bytes, stop: Fault | None) -> httpx.Response:
        target = request.url.raw_path.decode("ascii", "replace")
        if stop is not None and stop.kind == "drop" and not stop.after:
            self.log.append((request.method, target, "dropped"))
            raise httpx.ConnectError("Connection refused (sandbox fault injection)", request=request)
        if stop is not None and stop.kind in ("throttle", "error") and not stop.after:
            code, message, headers = error_parts(stop)
            status, hdrs, content = self.handler.handle_fault(GraphFault(stop.status, code, message, headers),
                                                              dict(request.headers))
            self.log.append((request.method, target, status))
            return httpx.Response(status, headers=hdrs, content=content, request=request)
        status, hdrs, content = self.handler.handle(request.method, str(request.url), dict(request.headers), body)
        if stop is not None and stop.kind == "error":  # after=True: applied, yet answered with an error (a 504)
            code, message, headers = error_parts(stop)
            status, hdrs, content = self.handler.handle_fault(GraphFault(stop.status, code, message, headers),
                                                              dict(request.headers))
            self.log.append((request.method, target, status))
            return httpx.Response(status, headers=hdrs, content=content, request=request)
        if stop is not None and stop.kind == "interrupt":  # applied, then the person pressed Ctrl-C
            self.log.append((request.method, target, status))
            raise KeyboardInterrupt
        if stop is not None and stop.kind == "drop":
            self.log.append((request.method, target, "dropped"))
            raise httpx.RemoteProtocolError("Server disconnected without sending a response (sandbox fault "
                                            "injection)", request=request)
        self.log.append((request.method, target, status))
        return httpx.Response(status, headers=hdrs, content=content, request=request)


class SandboxSyncTransport(_Base, httpx.BaseTransport):
    """``httpx.Client(transport=SandboxSyncTransport(handler_or_tenant, faults=[...]))``."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        delay, stop = self._plan(request)
        if delay:
            time.sleep(delay)
        return self._respond(request, body, stop)


class SandboxTransport(_Base, httpx.AsyncBaseTransport):
    """``httpx.AsyncClient(transport=SandboxTransport(handler_or_tenant, faults=[...]))``."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        delay, stop = self._plan(request)
        if delay:
            await asyncio.sleep(delay)
        return self._respond(request, body, stop)
