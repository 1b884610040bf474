"""Reading users from Natoma's SCIM endpoint with scim2-client (`provision --verify`, `audit`). Read-only.

Which scim2-client engine is used comes from a factory `(url, token) -> SCIM client | None`: under --sandbox the
CLI passes the sandbox's factory (scim2-client's WSGI engine calling Natoma's stand-in in process); None, or a
factory that returns None, means scim2-client's own network engine (httpx2) against the real URL. The token goes only
into the Authorization header; it is never part of a message.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

log = logging.getLogger("natoma_entra.scim")

ScimFactory = Callable[[str, str], Any]

PAGE_SIZE = 500  # users per SCIM page (a server may serve fewer: we follow what it returns)
CONCURRENCY = 4  # pages read at once once the total is known
USER_ATTRIBUTES = ["userName", "active", "roles"]


class ScimReadError(Exception):
    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix


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
        log.debug("%s %s%s -> %s", method, self._base(), url, getattr(response, "status_code", "?"))
        if self.trace is not None:
            sent = getattr(getattr(response, "request", None), "headers", None)  # httpx2: what was sent
            self.trace.scim(method, self._base() + url, kwargs, response, time.monotonic() - started,
                            sent if sent is not None else getattr(self, "headers", None))
        return response

    def _base(self) -> str:
        return ""


def traced(factory: ScimFactory | None, trace: Any) -> ScimFactory:
    """A client factory whose clients record every exchange in `trace` (the --trace file): the given factory's
    (the sandbox's stand-in), else scim2-client's network engine. The hook for Session.scim_http."""

    def open_traced(url: str, token: str):
        client = open_client(url, token, factory)
        client.trace = trace
        return client

    return open_traced


def network_client(url: str, token: str, timeout: float = 30.0):
    """scim2-client's own engine (httpx2) for Natoma's real SCIM endpoint (base URL = the SCIM tenant URL)."""
    import httpx2
    from scim2_client.engines.httpx2 import SyncSCIMClient

    class Client(_Logged, SyncSCIMClient):
        def _base(self) -> str:
            return str(self.client.base_url).rstrip("/")

    http = httpx2.Client(base_url=url.rstrip("/"), timeout=timeout, follow_redirects=False,
                         headers={"Authorization": f"Bearer {token}", "Accept": "application/scim+json"})
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


def open_client(url: str, token: str, factory: ScimFactory | None = None):
    return (factory(url, token) if factory else None) or network_client(url, token)


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

    e = SCIMClientException(str(answer.get("detail") or ""))
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


def read_user_roles(url: str, token: str, user_name: str, factory: ScimFactory | None = None) -> dict | None:
    """The Natoma user whose userName is `user_name` ({id, userName, active, roles, primary}), or None."""
    from scim2_models import SearchRequest, User

    host = urlsplit(url).hostname or url
    scim = open_client(url, token, factory)
    try:
        try:
            answer = scim.query(User, query_parameters=SearchRequest(filter=f"userName eq {_filter_literal(user_name)}"))
        except Exception as e:  # noqa: BLE001 - every scim2 error becomes one line with a fix
            raise _error(e, host, "the user") from None
        resources = list(getattr(answer, "resources", None) or [])
        wanted = user_name.lower()
        matching = [r for r in resources if str(getattr(r, "user_name", "") or "").lower() == wanted]
        if len(matching) > 1:
            raise ScimReadError(f"Natoma holds {len(matching)} users named {user_name}",
                                fix="remove the duplicate in Natoma's admin console")
        return summary(matching[0]) if matching else None
    finally:
        close(scim)


def iter_users(url: str, token: str, factory: ScimFactory | None = None, *, page_size: int = PAGE_SIZE,
               concurrency: int = CONCURRENCY, on_page: Callable[[int, int], None] | None = None) -> Iterator[dict]:
    """Every user Natoma holds, as summary() dicts, page by page (startIndex/count, RFC 7644 section 3.4.2.4).

    The first page gives totalResults; the rest are read `concurrency` at a time, in order, so memory holds a few
    pages at most. A server that serves fewer than `count` per page is followed by startIndex until it runs dry."""
    from scim2_models import SearchRequest, User

    host = urlsplit(url).hostname or url
    scim = open_client(url, token, factory)

    def page(start: int) -> tuple[list[dict], int | None]:
        try:
            answer = scim.query(User, query_parameters=SearchRequest(start_index=start, count=page_size,
                                                                     attributes=USER_ATTRIBUTES),
                                check_response_payload=False)
        except Exception as e:  # noqa: BLE001 - every scim2 error becomes one line with a fix
            raise _error(e, host, "the users") from None
        if isinstance(answer, dict) and ERROR_SCHEMA in (answer.get("schemas") or []):
            # unchecked payloads come back as they are: a SCIM Error is ours to raise
            raise _error(_as_scim_error(answer), host, "the users")
        if not isinstance(answer, dict):
            raise ScimReadError(f"Natoma's SCIM endpoint at {host} did not answer with a ListResponse",
                                fix="check the SCIM URL (scim.url)")
        total = answer.get("totalResults")
        return [summary(r) for r in answer.get("Resources") or [] if isinstance(r, dict)], \
            (int(total) if isinstance(total, (int, str)) and str(total).isdigit() else None)

    try:
        first, total = page(1)
        seen = len(first)
        if on_page:
            on_page(seen, total or seen)
        yield from first
        if not first:
            return
        served = len(first)  # the server's real page size (it may cap count)
        if total is None:  # no total: one page after another until an empty or short one
            start = 1 + served
            while True:
                users, _ = page(start)
                yield from users
                if len(users) < served or not users:
                    return
                start += len(users)
        starts = list(range(1 + served, total + 1, served))
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            for i in range(0, len(starts), concurrency):
                for users, _ in pool.map(page, starts[i:i + concurrency]):
                    seen += len(users)
                    if on_page:
                        on_page(seen, total)
                    yield from users
    finally:
        close(scim)
