"""The simulated Microsoft Graph: ``GraphHandler(tenant).handle(method, url, headers, body)``.

Routing, auth, errors, query options, paging and ``$batch`` live here; the endpoints are in graph_directory.py
(applications, service principals, groups, users, app role assignments, provisioning logs) and graph_sync.py
(synchronization templates, jobs, schema, secrets). Behaviour follows Microsoft's Graph reference pages; subtle points name
the Microsoft doc page they come from.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl, quote, unquote, unquote_plus, urlsplit

from natoma_entra.json_copy import copy_json
from natoma_entra.sandbox import graph_variants, strict
from natoma_entra.sandbox import options as V
from natoma_entra.sandbox.odata_filter import ODataError, compile_filter
from natoma_entra.sandbox.state import ACCESS_TOKEN, GraphFault, Tenant
from natoma_entra.sandbox.tokens import is_minted

JSON_CT = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
MAX_TOP = 999
DEFAULT_PAGE = 100
BATCH_LIMIT = 20  # Graph docs concepts/json-batching.md


def not_found(object_id: str) -> GraphFault:
    # Message text: hashicorp/go-azure-sdk sdk/odata/errors.go (concepts/errors.md).
    return GraphFault(
        404,
        "Request_ResourceNotFound",
        f"Resource '{object_id}' does not exist or one of its queried reference-property objects are not present.",
    )


def bad_request(message: str, code: str = "Request_BadRequest") -> GraphFault:
    return GraphFault(400, code, message)


@dataclass
class Request:
    method: str
    path: str  # after /v1.0, percent-decoded, no query, no trailing slash
    raw_path: str  # as received after /v1.0, with query (for the log and nextLink)
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    base: str  # scheme://host/v1.0
    params: dict[str, str] = field(default_factory=dict)
    variants: frozenset[str] = frozenset()  # the tenant's (paging plays `empty-pages`)

    def json(self) -> Any:
        if not self.body:
            raise bad_request("The request body is empty; a JSON body is required.")
        try:
            return json.loads(self.body)
        except ValueError:
            raise bad_request("Unable to read JSON request payload. Please ensure Content-Type header is set and "
                              "payload is of valid JSON format.") from None

    def json_or_empty(self) -> Any:
        return self.json() if self.body and self.body.strip() else {}


@dataclass
class Response:
    status: int
    body: Any = None  # a JSON-serialisable object, or None for no body
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[["GraphHandler", Request], Response]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    permission: str | None
    func: Handler
    write: bool


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, path: str, permission: str | None, *, write: bool | None = None):
        """``path`` like ``/servicePrincipals/{sp}/appRoleAssignedTo/{aid}``; segments in braces capture one segment."""
        rx = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", re.escape(path).replace(r"\{", "{").replace(r"\}", "}")) + "$"
        pattern = re.compile(rx, re.I)

        def deco(func: Handler) -> Handler:
            is_write = write if write is not None else method != "GET"
            self.routes.append(Route(method, pattern, permission, func, is_write))
            return func

        return deco


def _error_body(code: str, message: str, request_id: str, client_request_id: str, date: str) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {"date": date, "request-id": request_id, "client-request-id": client_request_id},
        }
    }


_ALT_KEY = re.compile(r"^/(applications|servicePrincipals)\(appId='((?:[^']|'')*)'\)(?=/|$)", re.I)


class GraphHandler:
    """Answers Graph requests against a ``Tenant``.

    ``log``: ``(method, path-with-query, status)`` for every request, ``$batch`` items included (their paths get
    the ``/v1.0`` prefix). ``writes()`` lists the entries that changed state or could have. ``early``: every request
    sent again before the Retry-After it was given (graph_variants.RetryAfterLedger).
    """

    def __init__(self, tenant: Tenant | None = None, *, access_token: str = ACCESS_TOKEN,
                 on_write: Callable[[], None] | None = None, raise_errors: bool = True):
        """``raise_errors``: an unexpected exception inside the sandbox (a bug) propagates (tests see the traceback);
        False answers 500 InternalServerError instead (the loopback server)."""
        from natoma_entra.sandbox import graph_directory, graph_sync  # noqa: F401  (register routes)

        self.tenant = tenant if tenant is not None else Tenant.initial()
        self.access_token = access_token
        self.log: list[tuple[str, str, int]] = []
        self.on_write = on_write
        self.raise_errors = raise_errors
        self.routes = ROUTER.routes
        self._write_log: list[tuple[str, str, int]] = []
        self.pod_calls: dict[str, list[float]] = {}  # provisionOnDemand rate limit, per job
        self.ledger = graph_variants.RetryAfterLedger(self.tenant)
        # `role-disable-lag`: application id -> (until, the roles just disabled as they read before, by lower id)
        self.role_lag: dict[str, tuple[float, dict[str, dict[str, Any]]]] = {}

    @property
    def early(self) -> list[graph_variants.Early]:
        """Requests sent again before the Retry-After they were given (none, from a client that honours it)."""
        return list(self.ledger.early)

    # public -------------------------------------------------------------------------------------------------------
    def handle(self, method: str, url: str, headers: dict[str, str] | Iterable[tuple[str, str]] | None,
               body: bytes | None) -> tuple[int, dict[str, str], bytes]:
        hdrs = {k.lower(): v for k, v in (headers.items() if isinstance(headers, dict) else (headers or []))}
        resp, path = self._dispatch(method.upper(), url, hdrs, body or b"", batch_auth=None)
        return self._encode(resp, hdrs)

    def handle_fault(self, fault: GraphFault, headers: dict[str, str] | None = None, *,
                     request: tuple[str, str, bytes] | None = None,
                     handled: bool = False) -> tuple[int, dict[str, str], bytes]:
        """Encode a fault as Graph would answer it (used by the transports' fault injection; not logged).
        request: (method, url, body) it answers, so the Retry-After it gives is kept in the ledger; handled: the
        tenant has already seen that request (a fault after it was applied)."""
        hdrs = {k.lower(): v for k, v in (headers or {}).items()}
        resp = self._fault_response(fault, hdrs)
        if request is not None:
            key = _key(*request)
            if not handled:
                self.ledger.arrived(key)
            self.ledger.answered(key, resp.status, resp.headers)
        return self._encode(resp, hdrs)

    def writes(self) -> list[tuple[str, str, int]]:
        """Log entries of requests that write (PATCH/PUT/DELETE/POST other than read-only actions)."""
        return list(self._write_log)

    # internals ----------------------------------------------------------------------------------------------------
    def _encode(self, resp: Response, hdrs: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        out = dict(resp.headers)
        # every Graph answer carries Date (the tenant's time, whole seconds): what an HTTP-date Retry-After is
        # measured from
        out.setdefault("Date", graph_variants.http_date(self.tenant.now().replace(microsecond=0)))
        out.setdefault("request-id", out.get("request-id") or str(uuid.uuid4()))
        if "client-request-id" in hdrs:
            out["client-request-id"] = hdrs["client-request-id"]
        if resp.body is None:
            return resp.status, out, b""
        out["Content-Type"] = JSON_CT
        return resp.status, out, json.dumps(resp.body).encode()

    def _fault_response(self, fault: GraphFault, hdrs: dict[str, str]) -> Response:
        rid = str(uuid.uuid4())
        body = _error_body(fault.code, fault.message, rid, hdrs.get("client-request-id", rid),
                           self.tenant.now().strftime("%Y-%m-%dT%H:%M:%S"))
        return Response(fault.status, body, {"request-id": rid, **fault.headers})

    def _dispatch(self, method: str, url: str, hdrs: dict[str, str], body: bytes,
                  batch_auth: bool | None) -> tuple[Response, str]:
        parts = urlsplit(url)
        scheme_host = f"{parts.scheme or 'https'}://{parts.netloc or 'graph.microsoft.com'}"
        raw = parts.path
        logged_path = raw + (f"?{unquote_plus(parts.query)}" if parts.query else "")  # decoded, for readable logs
        key = _key(method, url, body)
        self.ledger.arrived(key)
        try:
            if not raw.lower().startswith("/v1.0"):
                if raw.lower().startswith("/beta"):
                    raise bad_request("The sandbox serves Graph v1.0 only; beta is not simulated.")
                raise GraphFault(404, "Request_BadRequest", f"Invalid version: {raw.split('/')[1] if '/' in raw else raw}")
            sub = raw[5:] or "/"
            if sub != "/" and sub.endswith("/"):
                sub = sub[:-1]
            if batch_auth is None:
                self._check_auth(hdrs)
            req = Request(method, unquote(sub), sub + (f"?{parts.query}" if parts.query else ""),
                          dict(parse_qsl(parts.query, keep_blank_values=True)), hdrs, body, scheme_host + "/v1.0",
                          variants=self.tenant.variants)
            throttled = self.ledger.throttle(key, method != "GET" and not self._read_only_action(method, raw))
            if throttled is not None:
                raise throttled
            if req.path.lower() == "/$batch":
                if batch_auth is not None:
                    raise bad_request("Nested batch requests are not supported.")
                if method != "POST":
                    raise GraphFault(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
                resp = self._batch(req)
            else:
                resp = self._route(req)
        except GraphFault as fault:
            resp = self._fault_response(fault, hdrs)
        except Exception as exc:  # noqa: BLE001 - a sandbox bug; see raise_errors
            if self.raise_errors:
                raise
            resp = self._fault_response(GraphFault(500, "InternalServerError", f"Sandbox error: {exc!r}"), hdrs)
        self.ledger.answered(key, resp.status, resp.headers)
        if V.FORWARD_COMPATIBLE in self.tenant.variants and resp.status < 300 and resp.body is not None:
            # a copy: an answer may hold the tenant's own objects
            resp.body = graph_variants.forward_compatible(copy_json(resp.body), raw,
                                                          selected="$select" in dict(parse_qsl(parts.query)))
        entry = (method, logged_path, resp.status)
        self.log.append(entry)
        if method != "GET" and resp.status < 400 and not self._read_only_action(method, raw):
            self._write_log.append(entry)
            if self.on_write is not None:
                self.on_write()
        return resp, raw

    @staticmethod
    def _read_only_action(method: str, path: str) -> bool:
        low = path.lower()
        return low.endswith("/$batch") or low.endswith("/validatecredentials")

    def _check_auth(self, hdrs: dict[str, str]) -> None:
        auth = hdrs.get("authorization", "")
        if not auth:
            raise GraphFault(401, "InvalidAuthenticationToken", "Access token is empty.")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or (token.strip() != self.access_token and not is_minted(token.strip())):
            raise GraphFault(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")

    def _resolve_alt_key(self, path: str) -> str:
        m = _ALT_KEY.match(path)
        if not m:
            return path
        collection, app_id = m.group(1), m.group(2).replace("''", "'")
        key = "applications" if collection.lower() == "applications" else "servicePrincipals"
        for obj in self.tenant.state[key].values():
            if obj.get("appId", "").lower() == app_id.lower():
                return f"/{key}/{obj['id']}" + path[m.end():]
        raise not_found(app_id)

    def _route(self, req: Request) -> Response:
        req.path = self._resolve_alt_key(req.path)
        path_matched = False
        for route in self.routes:
            m = route.pattern.match(req.path)
            if not m:
                continue
            path_matched = True
            if route.method != req.method:
                continue
            req.params = {k: unquote(v) for k, v in m.groupdict().items()}
            if route.permission and route.permission in self.tenant.denied_permissions:
                raise GraphFault(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
            if req.method == "GET":
                strict.check_advanced(req.path, req.query, req.headers)
            return route.func(self, req)
        if "/synchronization" in req.path.lower():
            # The synchronization API is served by syncfabric (an ASP.NET Web API): an unsupported method, e.g. PATCH
            # on .../schema, answers 404 UnknownError with this message (msgraph-sdk-python #820,
            # msgraph-sdk-powershell #1134).
            inner = json.dumps({"Message": "No HTTP resource was found that matches the request URI "
                                f"'https://syncfabric.windowsazure.com/api{req.path}?api-version=2.0'."})
            raise GraphFault(404, "UnknownError", inner)
        if path_matched:
            raise GraphFault(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
        segs = [s for s in req.path.split("/") if s]
        raise bad_request(f"Resource not found for the segment '{segs[-1] if segs else ''}'.")

    # $batch ------------------------------------------------------------------------------------------------------
    def _batch(self, req: Request) -> Response:
        """JSON batching, Graph docs concepts/json-batching.md: <= 20 requests, unique ids, dependsOn -> 424."""
        body = req.json()
        items = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise bad_request("Invalid batch payload format: 'requests' must be a non-empty array.", "BadRequest")
        if len(items) > BATCH_LIMIT:
            raise bad_request(f"The number of batch requests ({len(items)}) exceeds the limit of {BATCH_LIMIT}.",
                              "BadRequest")
        given = [str(it.get("id")) if isinstance(it, dict) and it.get("id") is not None else None for it in items]
        ids = [i for i in given if i is not None]
        if len(ids) != len(given):
            raise bad_request("Invalid batch payload format: every request needs an 'id'.", "BadRequest")
        if len(set(ids)) != len(ids):
            raise bad_request("Batch request ids must be unique.", "BadRequest")
        by_id = dict(zip(ids, items))
        for it in items:
            for dep in it.get("dependsOn") or []:
                if str(dep) not in by_id:
                    raise bad_request(f"Request dependsOn an id that is not in the batch: '{dep}'.", "BadRequest")
        done: dict[str, dict[str, Any]] = {}
        order: list[str] = []

        def run(item_id: str, stack: tuple[str, ...]) -> dict[str, Any]:
            if item_id in done:
                return done[item_id]
            if item_id in stack:
                raise bad_request("Circular dependsOn in batch.", "BadRequest")
            item = by_id[item_id]
            failed = [d for d in item.get("dependsOn") or [] if run(str(d), stack + (item_id,))["status"] >= 400]
            if failed:
                result = {"id": item_id, "status": 424, "headers": {"Content-Type": "application/json"},
                          "body": self._fault_response(GraphFault(424, "FailedDependency",
                                                                  "Request failed because a request it depends on failed."),
                                                       req.headers).body}
            else:
                result = self._batch_item(item_id, item, req)
            done[item_id] = result
            order.append(item_id)
            return result

        for item_id in ids:
            run(item_id, ())
        return Response(200, {"responses": [done[i] for i in order]})

    def _batch_item(self, item_id: str, item: dict[str, Any], outer: Request) -> dict[str, Any]:
        method = str(item.get("method", "")).upper()
        url = str(item.get("url", ""))
        headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
        headers.setdefault("client-request-id", outer.headers.get("client-request-id", ""))
        if not headers["client-request-id"]:
            del headers["client-request-id"]
        body_obj = item.get("body")
        if not method or not url:
            fault = bad_request("Each batch request needs 'method' and 'url'.")
            resp = self._fault_response(fault, headers)
        elif body_obj is not None and "content-type" not in headers:
            # "headers ... are required when body is present" (json-batching.md)
            resp = self._fault_response(bad_request("Content-Type header must be specified when a body is present."),
                                        headers)
        else:
            rel = url if url.startswith("/") else "/" + url
            if rel.lower().startswith("/v1.0/"):
                rel = rel[5:]
            body = json.dumps(body_obj).encode() if body_obj is not None else b""
            resp, _ = self._dispatch(method, outer.base + rel, headers, body, batch_auth=True)
        out_headers = {k: v for k, v in resp.headers.items() if k.lower() not in ("request-id",)}
        if resp.body is not None:
            out_headers["Content-Type"] = "application/json"
        result: dict[str, Any] = {"id": item_id, "status": resp.status, "headers": out_headers}
        if resp.body is not None:
            result["body"] = resp.body
        return result


ROUTER = Router()


# shared helpers for endpoint modules ---------------------------------------------------------------------------------

def select(obj: dict[str, Any], req: Request) -> dict[str, Any]:
    sel = req.query.get("$select")
    if not sel:
        return obj
    keep = [s.strip() for s in sel.split(",") if s.strip()]
    # Unknown properties were refused by page()/entity() (strict.check_select); known ones our objects do not
    # carry are left out.
    out = {k: obj[k] for k in keep if k in obj}
    if "@odata.type" in obj:
        out["@odata.type"] = obj["@odata.type"]
    return out


def filtered(items: list[dict[str, Any]], req: Request, *, case_insensitive: bool = True) -> list[dict[str, Any]]:
    """Apply $filter. Directory string comparisons are case-insensitive; provisioning logs' are not
    (Graph docs provisioningobjectsummary-list.md: "Filters are case-sensitive")."""
    text = req.query.get("$filter")
    if not text:
        return items
    try:
        pred = compile_filter(text, case_insensitive=case_insensitive)
    except ODataError as e:
        raise bad_request(f"Invalid filter clause: {e}") from None
    return [o for o in items if pred(o)]


def page(handler: GraphHandler, items: list[dict[str, Any]], req: Request, context: str,
         transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> Response:
    """A collection response with $top / $skiptoken paging and @odata.nextLink (under `empty-pages`, an empty page
    carrying a nextLink before each page and after the last: graph_variants)."""
    token = req.query.get("$skiptoken")
    if V.EMPTY_PAGES in req.variants:
        if token == graph_variants.EMPTY_AFTER:
            return Response(200, {"@odata.context": f"{req.base}/$metadata#{context}", "value": []})
        token, empty_next = graph_variants.empty_pages(req.variants, token)
        if empty_next is not None:
            return Response(200, {"@odata.context": f"{req.base}/$metadata#{context}", "value": [],
                                  "@odata.nextLink": _next_link(req, empty_next)})
    try:
        top = int(req.query.get("$top", DEFAULT_PAGE))
        skip = int(token or 0)
    except ValueError:
        raise bad_request("Invalid $top or $skiptoken value.") from None
    if top < 1 or top > MAX_TOP:
        raise bad_request(f"Invalid page size specified: '{top}'. Must be between 1 and {MAX_TOP} inclusive.")
    strict.check_select(req.query.get("$select"), context)
    chunk = items[skip: skip + top]
    value = [select(transform(o) if transform else o, req) for o in chunk]
    body: dict[str, Any] = {"@odata.context": f"{req.base}/$metadata#{context}"}
    if req.query.get("$count", "").lower() == "true":
        body["@odata.count"] = len(items)
    body["value"] = value
    if skip + top < len(items):
        body["@odata.nextLink"] = _next_link(req, str(skip + top))
    elif V.EMPTY_PAGES in req.variants:
        body["@odata.nextLink"] = _next_link(req, graph_variants.EMPTY_AFTER)
    return Response(200, body)


def _next_link(req: Request, skiptoken: str) -> str:
    q = {k: v for k, v in req.query.items() if k != "$skiptoken"}
    q["$skiptoken"] = skiptoken
    qs = "&".join(f"{quote(k, safe='$')}={quote(v, safe='')}" for k, v in q.items())
    return f"{req.base}{req.path}?{qs}"


def _key(method: str, url: str, body: bytes | None) -> graph_variants.Key:
    """The same request, as the Retry-After ledger tells one from another: method, path, query and body."""
    parts = urlsplit(url)
    return graph_variants.request_key(method, parts.path + (f"?{parts.query}" if parts.query else ""), body or b"")


def entity(obj: dict[str, Any], req: Request, context: str) -> Response:
    strict.check_select(req.query.get("$select"), context)
    return Response(200, {"@odata.context": f"{req.base}/$metadata#{context}", **select(obj, req)})
