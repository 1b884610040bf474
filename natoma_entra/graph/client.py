"""GraphClient: one per run, raw JSON through the msgraph-sdk's own request adapter.

Why raw JSON (docs/dev/design-notes.md, the SDK as measured): the SDK's typed models cost over a second on first use,
drop fields on a schema round trip, and cannot send flags enums. The SDK still signs every request and runs its
default middleware (redirects, telemetry) except its retry handler: retries on 429/503/504 are ours, bounded by the
run's budget and said while they wait. A 2xx counts only when its body is what Graph sends (JSON; 201 with the
object); anything else (an HTML page from a proxy, JSON cut short) is a GraphError naming the request.
"""
from __future__ import annotations

import asyncio
import datetime as _dt
import json
import logging
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable
from urllib.parse import urlsplit

from . import errors, retry
from .. import tls
from ..waits import Waits
from .readonly import is_read
from .retry import Policy

if TYPE_CHECKING:
    from ..clock import Clock

log = logging.getLogger("natoma_entra.graph")

JSON = dict[str, Any]


# Waits are bounded twice: each request has a total deadline (httpx's timeouts bound each read, not a server that
# trickles a byte every 20 s), and the run has a budget (--timeout) that retries and Retry-After waits count against.
DEFAULT_RUN_TIMEOUT = 300.0  # seconds: --timeout / NATOMA_ENTRA_TIMEOUT
REQUEST_TIMEOUT = 100.0  # seconds, one request from send to the last byte
HTTP_TIMEOUTS = {"connect": 10.0, "read": 60.0, "write": 60.0, "pool": 10.0}
# What is retried, and how long each wait is: graph/retry.py (our own loop, not the SDK's retry middleware, so every
# wait is bounded by the run budget and said).
SAY_WAITS_OVER = 2.0  # seconds: a longer wait is said (on_wait), then every TICK seconds
TICK = 10.0


class GraphClient:
    """get/list/post/patch/put/delete/batch on paths relative to the Graph base URL ("/servicePrincipals/...").

    deadline: seconds the whole run may spend on Graph (from the first request), retries and waits included.
    on_wait(message): told about every wait longer than 2 s (throttling, replication), and every 10 s while it lasts.
    clock: the run's clock (the backend's). waits: the run's replication schedule (the backend's, waits.py).
    """

    def __init__(self, credential, base_url: str, *, transport=None, delegated: bool = False,
                 allowed_hosts: list[str] | None = None, auth: str = "access-token",
                 deadline: float | None = None, request_timeout: float = REQUEST_TIMEOUT,
                 on_wait: Callable[[str], None] | None = None, clock: "Clock | None" = None,
                 waits: "Waits | None" = None):
        import httpx
        from kiota_authentication_azure.azure_identity_authentication_provider import (
            AzureIdentityAuthenticationProvider,
        )
        from kiota_http.middleware.options import RetryHandlerOption
        from msgraph.graph_request_adapter import GraphRequestAdapter, options
        from msgraph_core import GraphClientFactory

        self.credential = credential  # the preflight reads the token's claims (natoma_entra/preflight.py)
        self.trace = None  # every exchange as a JSON line (--trace, natoma_entra/trace.py): trace_to()
        self.base_url = base_url.rstrip("/")
        self.host = urlsplit(self.base_url).hostname or ""
        self.delegated = delegated
        self.auth = auth  # the --auth mode, named when sign-in fails
        self.deadline = DEFAULT_RUN_TIMEOUT if deadline is None else float(deadline)
        self.request_timeout = request_timeout
        self.on_wait = on_wait
        # the run's clock (the backend's): a simulated one makes the waits instant and keeps them said
        self._sleep: Callable[[float], Awaitable[None]] = clock.sleep if clock is not None else asyncio.sleep
        self._clock: Callable[[], float] = clock.monotonic if clock is not None else time.monotonic
        self._now: Callable[[], _dt.datetime] = (clock.now if clock is not None
                                                 else (lambda: _dt.datetime.now(_dt.timezone.utc)))
        self.waits = waits if waits is not None else Waits()
        self._started: float | None = None
        # a person signs in during the first request (device code, browser): that may take minutes, so the first
        # request is not timed and the run's budget starts once it is answered
        self._signing_in = auth in ("device-code", "browser")
        timeout = httpx.Timeout(**HTTP_TIMEOUTS)
        http = (httpx.AsyncClient(transport=transport, timeout=timeout) if transport
                else httpx.AsyncClient(timeout=timeout, verify=tls.context()))
        # the SDK's default middleware (redirects, telemetry, ...) with its retry handler told never to retry: the
        # retries are ours, below (kiota's RetryHandlerOption, msgraph_core's create_with_default_middleware)
        no_retry = RetryHandlerOption(delay=0, max_retries=0, should_retry=False)
        http = GraphClientFactory.create_with_default_middleware(
            client=http, options={**options, RetryHandlerOption.get_key(): no_retry})
        self._http = http  # closed with the run; its event hooks are the --trace's (trace_to)
        # With no scopes the provider asks for https://<graph host>/.default, so national clouds work as they are.
        auth = AzureIdentityAuthenticationProvider(credential, allowed_hosts=allowed_hosts or [self.host])
        self.adapter = GraphRequestAdapter(auth, client=http)
        self.adapter.base_url = self.base_url  # no trailing slash: avoids '/v1.0//applications'
        self.requests: list[tuple[str, str, int | None]] = []  # (method, path, status): counts for benchmarks
        self.writes_started = 0  # writes handed to the transport: may have reached the tenant (an interrupt says so)
        self.transport = transport
        self.read_only = False  # set for dry runs and read-only commands: any write raises WriteRefused

    def trace_to(self, trace) -> None:
        """Record every exchange in `trace` (natoma_entra/trace.py): httpx event hooks on this client's
        AsyncClient, which see each request as the SDK's middleware signed it."""
        self.trace = trace
        self._http.event_hooks = trace.httpx_hooks()

    def remaining(self) -> float:
        """Seconds left of the run's budget (the clock starts at the first request)."""
        if self._started is None:
            return self.deadline
        return self.deadline - (self._clock() - self._started)

    # -- the one place a request is sent ---------------------------------------------------------------------
    async def request(self, method: str, path: str, body: Any = None, *, params: dict | None = None,
                      headers: dict | None = None, policy: Policy | None = None) -> Any:
        """Send one request; return the httpx.Response on 2xx with a well-formed answer (or, for a write found
        applied by its policy's re-read, what the re-read found), raise GraphError otherwise.

        What is waited out and retried: graph/retry.py, with `policy` saying what is special about this request."""
        method = method.upper()
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        if self.read_only:
            from .readonly import WriteRefused

            if not is_read(method, _shown_path(url, self.base_url)):
                raise WriteRefused(method.upper(), _shown_path(url, self.base_url))
        if params:
            from urllib.parse import urlencode, quote
            url += ("&" if "?" in url else "?") + urlencode(params, quote_via=quote, safe="$,'()/ ").replace(" ", "%20")
        shown = _shown_path(url, self.base_url)
        if not is_read(method, shown):
            self.writes_started += 1
        policy = policy or retry.DEFAULT
        repeatable = policy.repeatable if policy.repeatable is not None else (
            method != "POST" or is_read(method, shown))
        if self._started is None:
            self._started = self._clock()
        retries = 0  # after throttling, a 503/504 or a lost answer
        polls = 0  # of the replication schedule (replication, named lags)
        polled = 0.0  # seconds waited on it
        while True:
            sent = time.perf_counter()  # the --verbose line's duration: wall time, whatever the run's clock
            try:
                resp = await self._send_once(method, url, shown, body, headers)
            except errors.GraphError as e:
                if e.code != errors.ANSWER_LOST:
                    raise
                resp, err, asked = None, e, None
            else:
                self.requests.append((method, shown, resp.status_code))
                log.debug("%s %s -> %s (%.0f ms)", method, shown, resp.status_code, (time.perf_counter() - sent) * 1000)
                if resp.status_code < 400:
                    resp.parsed = _checked_answer(method, shown, resp)
                    return resp
                asked = retry.retry_after(resp.headers, self._now())
                err = errors.from_response(resp.status_code, resp.content, resp.headers, method, shown,
                                           self.delegated, retry_after=asked)
            if resp is None or err.status in retry.RETRY_STATUSES:
                # a 429 was not processed (concepts/throttling.md); a 503/504 or a lost answer may have been applied
                maybe_applied = resp is None or err.status != 429
                if (maybe_applied and not repeatable and policy.applied is None) or retries >= retry.MAX_RETRIES:
                    raise err
                wait = asked if asked is not None else retry.BACKOFF[min(retries, len(retry.BACKOFF) - 1)]
                self._check_budget(err, wait, asked is not None)
                retries += 1
                answer = f"with {err.status}" if resp is not None else "without an answer"
                await self._wait(wait, f"Graph answered {method} {shown} {answer}; waiting {wait:g} s before retry "
                                       f"{retries} of {retry.MAX_RETRIES}")
                if maybe_applied and not repeatable and policy.applied is not None:
                    found = await policy.applied()  # not sent twice: was it applied after all?
                    if found is not None:
                        return Reread(found)
                continue
            lag = policy.waits_out(err)
            if lag is None:
                raise err
            delays = self.waits.poll
            if polls >= len(delays) or delays[polls] >= self.remaining():
                if isinstance(lag, retry.Lag):
                    err.fix = lag.fix.format(seconds=polled)
                raise err
            if polls == 0:
                bound = min(float(sum(delays)), max(self.remaining(), 0.0))
                why = f"({lag.name})" if isinstance(lag, retry.Lag) else "while it replicates"
                self._say(bound, f"{policy.what or f'{method} {shown}'}: Graph answered {err.status} {why}; "
                                 f"retrying for at most {bound:g} s...")
            await self._sleep(delays[polls])
            polled += delays[polls]
            polls += 1

    def _check_budget(self, err: errors.GraphError, wait: float, asked: bool) -> None:
        """A wait the run's budget cannot hold stops the run now, saying how long Graph asked for."""
        left = self.remaining()
        if wait < left:
            return
        err.message += (f" (Graph asked to wait {wait:g} s before retrying; {max(left, 0):.0f} s were left of this "
                        f"run's {self.deadline:g} s budget, so the run stops here)")
        fix = f"run the command again after {wait:g} s" if asked else (err.fix or "")
        err.fix = fix + "; raise --timeout (or NATOMA_ENTRA_TIMEOUT) to let a run wait longer"
        raise err

    def _say(self, seconds: float, message: str) -> None:
        if seconds > SAY_WAITS_OVER and self.on_wait is not None:
            self.on_wait(message)

    async def _send_once(self, method: str, url: str, shown: str, body: Any, headers: dict | None):
        from kiota_abstractions.method import Method
        from kiota_abstractions.native_response_handler import NativeResponseHandler
        from kiota_abstractions.request_information import RequestInformation
        from kiota_http.middleware.options import ResponseHandlerOption

        info = RequestInformation(Method[method])
        info.url = url
        info.headers.try_add("Accept", "application/json")
        for k, v in (headers or {}).items():
            info.headers.try_add(k, v)
        if body is not None:
            info.headers.try_add("Content-Type", "application/json")
            info.content = json.dumps(body).encode()
        info.add_request_options([ResponseHandlerOption(NativeResponseHandler())])
        left = self.remaining()
        if left <= 0:
            raise errors.out_of_time(method, shown, self.deadline)
        limit = min(self.request_timeout, left)
        try:
            if self._signing_in:
                resp = await self.adapter.send_async(info, None, {})
                self._signing_in, self._started = False, self._clock()
                return resp
            # NativeResponseHandler: the raw httpx.Response
            return await asyncio.wait_for(self.adapter.send_async(info, None, {}), timeout=limit)
        except errors.GraphError:
            raise
        except (asyncio.TimeoutError, TimeoutError):
            self.requests.append((method, shown, None))
            if limit < self.request_timeout:
                raise errors.out_of_time(method, shown, self.deadline) from None
            raise errors.too_slow(method, shown, urlsplit(url).hostname or self.host, limit) from None
        except Exception as exc:  # httpx errors surface unwrapped through the middleware
            import httpx
            from azure.core.exceptions import ClientAuthenticationError

            if isinstance(exc, ClientAuthenticationError):  # includes CredentialUnavailableError
                raise errors.from_sign_in(exc, self.auth) from None
            if isinstance(exc, (httpx.HTTPError, OSError)):
                self.requests.append((method, shown, None))
                # the request went out and the answer broke off: it may have been applied (retry.py decides)
                sent = isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError,
                                        httpx.ReadTimeout))
                raise errors.from_transport(exc, method, shown, urlsplit(url).hostname or self.host,
                                            sent=sent) from None
            raise

    async def _wait(self, seconds: float, message: str) -> None:
        """Sleep, saying so when it is long: once at the start, then every TICK seconds."""
        self._say(seconds, message)
        left = seconds
        while left > 0:
            step = min(left, TICK)
            await self._sleep(step)
            left -= step
            if left > 0 and seconds > SAY_WAITS_OVER and self.on_wait is not None:
                self.on_wait(f"still waiting: {left:.0f} s of {seconds:g} s before retrying")

    # -- verbs -----------------------------------------------------------------------------------------------
    async def get(self, path: str, params: dict | None = None, *, policy: Policy | None = None) -> JSON:
        return _json(await self.request("GET", path, params=params, policy=policy))

    async def list(self, path: str, params: dict | None = None, *, limit: int | None = None) -> list[JSON]:
        """Every item of a collection, following @odata.nextLink as given (an absolute URL, never built or parsed:
        docs concepts/paging.md). A page may hold no items and still carry a nextLink: it is followed."""
        items: list[JSON] = []
        shown = path
        page = await self.get(path, params)
        while True:
            value = page.get("value", [])
            if not isinstance(value, list):
                raise errors.bad_answer("GET", _shown_path(shown, self.base_url), 200,
                                        "JSON whose value is not a list")
            items.extend(value)
            nxt = page.get("@odata.nextLink")
            if not nxt or (limit and len(items) >= limit):
                return items[:limit] if limit else items
            shown = nxt
            page = await self.get(nxt)

    async def post(self, path: str, body: Any = None, *, policy: Policy | None = None) -> JSON | None:
        return _json(await self.request("POST", path, body, policy=policy))

    async def patch(self, path: str, body: Any, *, policy: Policy | None = None,
                    headers: dict | None = None) -> JSON | None:
        return _json(await self.request("PATCH", path, body, headers=headers, policy=policy))

    async def put(self, path: str, body: Any, *, policy: Policy | None = None) -> JSON | None:
        return _json(await self.request("PUT", path, body, policy=policy))

    async def delete(self, path: str, *, policy: Policy | None = None) -> None:
        await self.request("DELETE", path, policy=policy)

    async def gather(self, *calls: Any) -> tuple[Any, ...]:
        """Reads that do not depend on each other go out together. Every one ends before an error is raised (the
        first, in the order given): bad input found by one read while the others are in flight is one error, not a
        trail of tasks cut short at the loop's end."""
        results = await asyncio.gather(*calls, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return tuple(results)

    async def close(self) -> None:
        try:
            await self._http.aclose()
        except Exception:  # closing must never hide the run's own outcome
            pass


def _json(resp) -> Any:
    """The parsed answer, and the response let go of. httpx binds a response and its stream to each other (a
    reference cycle), so a response, its body and the JSON parsed from it live until Python's cyclic collector runs;
    pages in flight survive the young collections, and a walk of thousands of member pages kept hundreds alive at
    once (hundreds of MB at 2,000,000 memberships). Once the body is read and the response closed, the stream is not
    used again: giving the response an empty stream of its own (httpx.Response's public `stream` attribute) drops the
    bound one, and with it the cycle, so the response is freed as soon as its caller is done."""
    import httpx

    doc = getattr(resp, "parsed", None)
    resp.parsed = None
    if getattr(resp, "is_closed", False) and isinstance(resp, httpx.Response):
        resp.stream = httpx.ByteStream(b"")
    return doc


class Reread:
    """The answer of a write its policy's re-read found applied (graph/retry.py): the object as read back."""

    status_code = 200

    def __init__(self, found: Any):
        self.parsed = found


def _checked_answer(method: str, shown: str, resp) -> Any:
    """The parsed JSON of a 2xx answer, refused (GraphError naming the request) when it is not what Graph sends:
    a read answers 200 with a JSON object; a create answers 201 with the object; other writes 204 with no body, or
    200 with JSON (docs: each operation's "Response" section). HTML from a captive portal or proxy, or JSON cut
    short, must never count as success."""
    status, content = resp.status_code, resp.content
    ctype = (resp.headers.get("content-type") or "").lower()
    if status == 204 or not content.strip():
        if method == "GET" or status == 201:
            raise errors.bad_answer(method, shown, status, "an empty answer")
        return None
    if "html" in ctype:
        raise errors.bad_answer(method, shown, status, "HTML")
    try:
        doc = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        raise errors.bad_answer(method, shown, status, _describe(content, ctype)) from None
    if (method == "GET" or status == 201) and not isinstance(doc, dict):
        raise errors.bad_answer(method, shown, status, "JSON that is not an object")
    return doc


def _describe(content: bytes, ctype: str) -> str:
    start = content.lstrip()[:1]
    if start == b"<":
        return "HTML"
    if start in (b"{", b"["):
        return "truncated or malformed JSON"
    return f"a non-JSON answer ({ctype.split(';')[0] or 'no content type'})"


def _shown_path(url: str, base: str) -> str:
    return url[len(base):] if url.startswith(base) else url
