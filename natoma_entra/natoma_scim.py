"""Reading users from Natoma's SCIM endpoint with scim2-client (`provision --verify`, `audit`). Read-only.

Which scim2-client engine is used comes from a factory `(url, token) -> SCIM client | None`: under --sandbox the
CLI passes the sandbox's factory (scim2-client's WSGI engine calling Natoma's stand-in in process); None, or a
factory that returns None, means scim2-client's own network engine (httpx2) against the real URL, every request and
answer bounded in time and size (scim_bounds.py). The token goes only into the Authorization header; it is never
part of a message.

What a server answers is checked before it is believed (RFC 7644 section 3.4.2, "Filtering" and "Pagination"):
`totalResults` must be a count (a number, not negative, not beyond MAX_USERS), `Resources` a list of objects,
`startIndex` the one asked for, and each page must bring users not seen before; anything else stops the read with
one line naming the server's fault, never an endless loop or "an empty Natoma".
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, cast
from urllib.parse import urlsplit

from .scim_bounds import FIX_SERVER, AnswerTooLarge, Bounds, ScimReadError, hooks

log = logging.getLogger("natoma_entra.scim")

# How a run reaches Natoma: (url, token, bounds) -> a scim2-client client. The real backend's is network_client (every
# request within `bounds`); the sandbox's calls its stand-in in process.
ScimFactory = Callable[[str, str, Bounds], Any]

PAGE_SIZE = 500  # users per SCIM page (a server may serve fewer: we follow what it returns)
SMALLEST_PAGE = 25  # a page over the size cap is asked for again with a quarter of the users, down to this
CONCURRENCY = 4  # pages read at once once the total is known
USER_ATTRIBUTES = ["userName", "active", "roles"]
MAX_USERS = 1_000_000  # a totalResults above this is not a Natoma tenant's (10^12 once ended in MemoryError)

__all__ = ["Bounds", "ScimReadError", "iter_users", "read_user_roles", "summary", "user_roles"]


def provider():
    from scim2_models import EnterpriseUser, ScimProvider, User

    from .scim_generics import keep_client_generics

    keep_client_generics()

    return ScimProvider(models=[User, EnterpriseUser])


class _Logged:
    """Every SCIM request in the --verbose log (method, URL, status; never a header), and in the --trace file when
    the client was opened through traced() (natoma_entra/trace.py drops the Authorization header)."""

    trace: Any = None

    def request(self, method: str, url: str, **kwargs):
        started = time.monotonic()
        response = super().request(method, url, **kwargs)  # type: ignore[misc]
        log.debug("%s %s%s -> %s (%.0f ms)", method, self._base(), url, getattr(response, "status_code", "?"),
                  (time.monotonic() - started) * 1000)
        if self.trace is not None:
            sent = getattr(getattr(response, "request", None), "headers", None)  # httpx2: what was sent
            self.trace.scim(method, self._base() + url, kwargs, response, time.monotonic() - started,
                            sent if sent is not None else getattr(self, "headers", None))
        return response

    def _base(self) -> str:
        return ""


def traced(factory: ScimFactory | None, trace: Any) -> ScimFactory:
    """A client factory whose clients record every exchange in `trace` (the --trace file): the given factory's
    (the sandbox's stand-in), else scim2-client's network engine (within the run's bounds). The hook for
    Session.scim."""

    def open_traced(url: str, token: str, bounds: Bounds | None = None):
        client = open_client(url, token, factory, bounds)
        client.trace = trace
        return client

    return open_traced


def network_client(url: str, token: str, bounds: Bounds | None = None, *, transport: Any = None):
    """scim2-client's own engine (httpx2) for Natoma's real SCIM endpoint (base URL = the SCIM tenant URL), every
    request and answer bounded (scim_bounds.hooks). `transport`: tests serve a SCIM app through it; None is the
    network (with the proxies the environment names)."""
    import httpx2
    from scim2_client.engines.httpx2 import SyncSCIMClient

    from .scim_bounds import ACCEPT_ENCODING, HTTP_TIMEOUTS

    class Client(_Logged, SyncSCIMClient):
        def _base(self) -> str:
            return str(self.client.base_url).rstrip("/")

    from .tls import context

    host = urlsplit(url).hostname or url
    http = httpx2.Client(base_url=url.rstrip("/"), timeout=httpx2.Timeout(**HTTP_TIMEOUTS), follow_redirects=False,
                         transport=transport, event_hooks=hooks(bounds or Bounds(), host),
                         verify=True if transport is not None else context(),  # natoma_entra/tls.py
                         headers={"Authorization": f"Bearer {token}", "Accept": "application/scim+json",
                                  "Accept-Encoding": ACCEPT_ENCODING})
    return Client(http, provider=provider())


def wsgi_client(app, url: str, token: str | None):
    """scim2-client's WSGI engine: a SCIM server (scim2-server) called in process, no socket."""
    from scim2_client.engines.wsgi import WSGISCIMClient

    class Client(_Logged, WSGISCIMClient):
        def _base(self) -> str:
            return self.base_url.rstrip("/")

    headers = {"Accept": "application/scim+json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return Client(app, base_url=url.rstrip("/"), headers=headers, provider=provider())


def open_client(url: str, token: str, factory: ScimFactory | None = None, bounds: Bounds | None = None):
    bounds = bounds or Bounds()
    return (factory(url, token, bounds) if factory else None) or network_client(url, token, bounds)


def close(client) -> None:
    http = getattr(client, "client", None)  # the httpx2 engine's connection pool; the WSGI engine holds none
    try:
        if http is not None:
            http.close()
    except Exception:  # noqa: BLE001 - closing must never hide the outcome
        pass


ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def _as_scim_error(answer: dict) -> Exception:
    from scim2_client import SCIMClientException

    class ScimErrorAnswer(SCIMClientException):
        status: Any = None  # the Error's "status" (read by _status)

    e = ScimErrorAnswer(str(answer.get("detail") or ""))
    e.status = answer.get("status")
    if answer.get("detail"):
        e.add_note(str(answer["detail"]))
    return e


def _status(e: Exception) -> int | None:
    status = getattr(getattr(e, "source", None), "status_code", None) or getattr(e, "status", None)
    try:
        return int(status) if status is not None else None
    except (TypeError, ValueError):
        return None


def _error(e: Exception, host: str, what: str) -> ScimReadError:
    from scim2_client import SCIMClientException
    from scim2_models import SCIMException

    if isinstance(e, ScimReadError):  # a bound the answer crossed (scim_bounds.py): already one line with its fix
        return e
    if isinstance(e, (SCIMClientException, SCIMException)):
        status = _status(e)
        notes = "; ".join(getattr(e, "__notes__", []) or [])
        if status in (401, 403):
            return ScimReadError(f"Natoma's SCIM endpoint at {host} refused the SCIM token ({status})",
                                 fix="give the token the job uses (NATOMA_SCIM_TOKEN, --scim-token-file or "
                                     "--scim-token-stdin); natoma-entra credentials --rotate saves a new one")
        detail = f"{type(e).__name__}" + (f" (HTTP {status})" if status else "") + (f": {notes}" if notes else "")
        return ScimReadError(f"could not read {what} from Natoma's SCIM endpoint at {host}: {detail}",
                             fix="check the SCIM URL (scim.url) and the network, then run the command again")
    return ScimReadError(f"Natoma's SCIM endpoint at {host} answered in a way that could not be read: "
                         f"{type(e).__name__}",
                         fix="check the SCIM URL (scim.url); run with --verbose for the HTTP trace")


def _filter_literal(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def summary(user: Any) -> dict:
    """{id, userName, active, roles, primary} of a scim2-models User or of its JSON."""
    if not isinstance(user, dict):
        user = user.model_dump(mode="json")
    roles = [r for r in (user.get("roles") or []) if isinstance(r, dict) and r.get("value")]
    primary = next((r["value"] for r in roles if r.get("primary")), None)
    return {"id": user.get("id"), "userName": user.get("userName"), "active": user.get("active"),
            "roles": [str(r["value"]) for r in roles], "primary": primary}


def read_user_roles(url: str, token: str, user_name: str, factory: ScimFactory | None = None, *,
                    bounds: Bounds | None = None) -> dict | None:
    """The Natoma user whose userName is `user_name` ({id, userName, active, roles, primary}), or None. userNames
    compare case-insensitively (RFC 7643 section 4.1.1: userName is caseExact false); two that differ only in case
    are reported, as Entra cannot tell which to update."""
    from scim2_models import SearchRequest, User

    host = urlsplit(url).hostname or url
    scim = open_client(url, token, factory, bounds)
    try:
        try:
            # scim2-models parses the filter string (its annotation names the parsed type)
            query = SearchRequest(filter=cast(Any, f"userName eq {_filter_literal(user_name)}"))
            answer = scim.query(User, query_parameters=query)
        except Exception as e:  # noqa: BLE001 - every scim2 error becomes one line with a fix
            raise _error(e, host, "the user") from None
        resources = getattr(answer, "resources", None) or []
        if not isinstance(resources, list):
            raise ScimReadError(f"Natoma's SCIM endpoint at {host} answered Resources that is not a list of users",
                                fix=FIX_SERVER)
        wanted = user_name.casefold()
        matching = [r for r in resources if str(getattr(r, "user_name", "") or "").casefold() == wanted]
        if len(matching) > 1:
            names = ", ".join(sorted(str(getattr(r, "user_name", "")) for r in matching)[:5])
            raise ScimReadError(f"Natoma holds {len(matching)} users named {user_name} (userNames differ only in "
                                f"case: {names})", fix="remove the duplicate in Natoma's admin console")
        return summary(matching[0]) if matching else None
    finally:
        close(scim)


async def user_roles(graph: Any, url: str, token: str, user_name: str, factory: ScimFactory | None = None) -> dict | None:
    """read_user_roles within the run's --timeout (the budget of `graph`, the run's GraphClient), in a daemon thread
    the run stops waiting for when the time is up (scim_bounds.in_thread)."""
    from .scim_bounds import in_thread

    bounds = Bounds.of(graph)
    return await in_thread(lambda: read_user_roles(url, token, user_name, factory, bounds=bounds), bounds,
                           urlsplit(url).hostname or url)


@dataclass
class _Page:
    start: int
    users: list[dict]
    total: Any  # as the server sent it (checked by _total)
    start_index: Any
    listed: bool  # the answer had Resources


def _total(value: Any, host: str) -> int:
    """totalResults as a count of users, or the server's fault in one line (RFC 7644 section 3.4.2: REQUIRED)."""
    def fault(what: str) -> ScimReadError:
        return ScimReadError(f"Natoma's SCIM endpoint at {host} answered a page of users {what} (RFC 7644 section "
                             "3.4.2): its pages cannot be followed", fix=FIX_SERVER)

    if value is None:
        raise fault("without totalResults")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise fault(f"whose totalResults is not a number ({str(value)[:40]!r})")
    if value < 0:
        raise fault(f"whose totalResults is negative ({value})")
    if value > MAX_USERS:
        raise ScimReadError(f"Natoma's SCIM endpoint at {host} answered totalResults {value:,}: more users than "
                            f"natoma-entra reads from one Natoma (at most {MAX_USERS:,})", fix=FIX_SERVER)
    return value


def iter_users(url: str, token: str, factory: ScimFactory | None = None, *, page_size: int = PAGE_SIZE,
               concurrency: int = CONCURRENCY, on_page: Callable[[int, int], None] | None = None,
               bounds: Bounds | None = None) -> Iterator[dict]:
    """Every user Natoma holds, as summary() dicts, page by page (startIndex/count, RFC 7644 section 3.4.2.4).

    The first page gives totalResults; the rest are read `concurrency` at a time, in order, so memory holds a few
    pages at most. A server that serves fewer than `count` per page is followed by startIndex, and a page shorter
    than the ones before is read on from where it ended. A user met again (its id seen before: users created while
    the pages are read shift them) is given once; a page of nothing but users already given means the server does
    not advance, and stops the read, as does a startIndex other than the one asked for, or more users than `count`
    (RFC 7644 section 3.4.2.4: the server returns no more than asked). A page over the size cap (a server that sends
    whole users, not the attributes asked for) is asked for again with fewer users, and so are the pages after it."""
    from scim2_models import SearchRequest, User

    host = urlsplit(url).hostname or url
    bounds = bounds or Bounds()
    scim = open_client(url, token, factory, bounds)

    size = [page_size]  # shared by the pages read side by side: once smaller, smaller for the rest of the read

    def page(start: int) -> _Page:
        while True:
            count = size[0]
            try:
                return read_page(start, count)
            except AnswerTooLarge:
                if count <= SMALLEST_PAGE:
                    raise
                size[0] = min(size[0], max(SMALLEST_PAGE, count // 4))

    def read_page(start: int, count: int) -> _Page:
        bounds.left(host)
        try:
            query = SearchRequest(start_index=start, count=count, attributes=cast(Any, USER_ATTRIBUTES))
            answer = scim.query(User, query_parameters=query, check_response_payload=False)
        except Exception as e:  # noqa: BLE001 - every scim2 error becomes one line with a fix
            raise _error(e, host, "the users") from None
        if isinstance(answer, dict) and ERROR_SCHEMA in (answer.get("schemas") or []):
            # unchecked payloads come back as they are: a SCIM Error is ours to raise
            raise _error(_as_scim_error(answer), host, "the users")
        if not isinstance(answer, dict):
            raise ScimReadError(f"Natoma's SCIM endpoint at {host} did not answer with a ListResponse",
                                fix="check the SCIM URL (scim.url)")
        resources = answer.get("Resources")
        listed = resources is not None
        resources = resources if listed else []
        if not isinstance(resources, list) or not all(isinstance(r, dict) for r in resources):
            raise ScimReadError(f"Natoma's SCIM endpoint at {host} answered Resources that is not a list of users "
                                f"(startIndex {start})", fix=FIX_SERVER)
        if len(resources) > count:
            raise ScimReadError(f"Natoma's SCIM endpoint at {host} sent {len(resources):,} users when asked for at "
                                f"most {count} (startIndex {start}, RFC 7644 section 3.4.2.4)", fix=FIX_SERVER)
        return _Page(start, [summary(r) for r in resources], answer.get("totalResults"), answer.get("startIndex"),
                     listed)

    seen: set = set()  # the ids given (the strings the callers keep anyway: the set adds its slots only)

    def fresh(p: _Page) -> list[dict]:
        if p.start_index is not None and str(p.start_index).strip() != str(p.start):
            raise ScimReadError(f"Natoma's SCIM endpoint at {host} answered startIndex {str(p.start_index)[:20]} "
                                f"when asked for {p.start}: it does not page as asked (RFC 7644 section 3.4.2.4)",
                                fix=FIX_SERVER)
        new = []
        for u in p.users:
            key = u.get("id")
            if key is None:  # a user without its id (REQUIRED, RFC 7643 section 3.1): known by its userName
                key = ("userName", u.get("userName"))
            if key in seen:
                continue
            seen.add(key)
            new.append(u)
        if p.users and not new:
            raise ScimReadError(f"Natoma's SCIM endpoint at {host} served the same users again at startIndex "
                                f"{p.start}: its pages do not advance (is startIndex ignored?)", fix=FIX_SERVER)
        return new

    try:
        first = page(1)
        total = _total(first.total, host)
        if total and not first.listed:
            raise ScimReadError(f"Natoma's SCIM endpoint at {host} answered totalResults {total:,} without "
                                "Resources (RFC 7644 section 3.4.2 requires them)", fix=FIX_SERVER)
        users = fresh(first)
        given = len(users)
        if on_page:
            on_page(given, max(total, given))
        yield from users
        served = len(first.users)  # the server's real page size (it may cap count)
        if not served:
            return
        start = 1 + served
        while start <= total:
            stride = min(served, size[0])  # the server's page, or the smaller one asked for since
            starts = [start + i * stride for i in range(max(1, concurrency)) if start + i * stride <= total]
            for p in _side_by_side(page, starts):
                if p.start != start:  # a short page before this one: read on from where it ended
                    break
                if not p.users:  # nothing where the total said there would be: the list shrank meanwhile
                    return
                users = fresh(p)
                given += len(users)
                if on_page:
                    on_page(given, total)
                yield from users
                start += len(p.users)
    finally:
        close(scim)


def _side_by_side(read: Callable[[int], _Page], starts: list[int]) -> list[_Page]:
    """read(start) for each start at once, in daemon threads (a thread pool's workers are joined at exit, so one
    blocked in a socket would hold the process past --timeout), the pages in order; the first failure is raised."""
    pages: list[Any] = [None] * len(starts)
    errors: list[BaseException | None] = [None] * len(starts)

    def one(i: int) -> None:
        try:
            pages[i] = read(starts[i])
        except BaseException as e:  # noqa: BLE001 - raised below, in order
            errors[i] = e

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(starts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in errors:
        if e is not None:
            raise e
    return pages
