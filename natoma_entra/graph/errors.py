"""Every Graph or transport failure becomes one GraphError: status, code, message, request id and the fix.

Error body shape and codes: Microsoft Graph docs concepts/errors.md; hashicorp/go-azure-sdk sdk/odata/errors.go. The body is parsed
defensively: `message` is sometimes an object, `innerError` can nest, bodies can be empty or HTML.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..errors import NatomaEntraError, UsageError, MissingInput, with_fix  # noqa: F401  (moved to natoma_entra/errors.py)


# The permission table (natoma_entra/permissions.py) follows each request's Microsoft Graph reference page.
_DELEGATED_ROLE = "Cloud Application Administrator or Application Administrator"


def permission_for(method: str, path: str) -> str | None:
    """The application permission(s) the request needs, with the alternatives its reference page accepts."""
    from ..permissions import request_for

    req = request_for(method, path)
    return req.hint if req else None


def delegated_for(method: str, path: str) -> tuple[str | None, str]:
    """(delegated permission(s), Entra role) for the request, for sign-in as a user."""
    from ..permissions import request_for

    req = request_for(method, path)
    if req is None:
        return None, _DELEGATED_ROLE
    return req.delegated, " or ".join(req.roles) if req.roles else ""


@dataclass
class GraphError(NatomaEntraError):
    status: int | None
    code: str
    message: str
    method: str = ""
    path: str = ""
    request_id: str | None = None
    fix: str | None = None
    retry_after: float | None = None
    details: list = field(default_factory=list)

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    @property
    def headline(self) -> str:
        """The one-line description without the fix (steps report the fix in a field of its own)."""
        head = f"Graph {self.method} {self.path} failed"
        if self.status:
            head += f" ({self.status} {self.code})" if self.code else f" ({self.status})"
        elif self.code:
            head += f" ({self.code})"
        text = f"{head}: {self.message}"
        if self.request_id:
            text += f" [request-id {self.request_id}]"
        return text

    def __str__(self) -> str:
        return with_fix(self.headline, self.fix)


def _text(value) -> str:
    if isinstance(value, dict):  # go-azure-sdk notes message is sometimes {"value": "..."}
        return str(value.get("value") or value.get("message") or json.dumps(value))
    return "" if value is None else str(value)


def _request_id(inner) -> str | None:
    while isinstance(inner, dict):
        rid = inner.get("request-id") or inner.get("requestId")
        if rid:
            return rid
        inner = inner.get("innerError") or inner.get("innererror")
    return None


def parse_error_body(body: bytes) -> tuple[str, str, str | None, list]:
    """(code, message, request id, details) from a Graph error body; tolerant of non-JSON bodies."""
    try:
        doc = json.loads(body or b"null")
    except ValueError:
        snippet = body[:200].decode("utf-8", "replace").strip() if body else ""
        return "", snippet or "(no response body)", None, []
    err = doc.get("error") if isinstance(doc, dict) else None
    if not isinstance(err, dict):
        return "", _text(doc) if doc else "(no response body)", None, []
    details = err.get("details") or []
    if isinstance(details, dict):
        details = [details]
    inner = err.get("innerError") or err.get("innererror")
    return _text(err.get("code")), _text(err.get("message")), _request_id(inner), details


def fix_for(status: int | None, code: str, method: str, path: str, delegated: bool) -> str | None:
    if status == 401:
        return ("sign in again: check --auth and --tenant (for --auth cli run `az login --allow-no-subscriptions`; "
                "for access-token set a fresh NATOMA_ENTRA_ACCESS_TOKEN)")
    if status == 403 or code == "Authorization_RequestDenied":
        if delegated:
            perm, role = delegated_for(method, path)
            fix = (f"grant the delegated Microsoft Graph permission {perm or 'this call needs'} and admin-consent it"
                   + (f"; the signed-in user also needs the Entra role {role}" if role else ""))
            return fix + " (natoma-entra docs permissions; https://natoma.github.io/natoma-entra/permissions/)"
        perm = permission_for(method, path) or "the Microsoft Graph permission this call needs"
        return (f"grant the Microsoft Graph application permission {perm} and admin-consent it "
                "(natoma-entra docs permissions; https://natoma.github.io/natoma-entra/permissions/)")
    if status == 429:
        return "Graph is throttling this tenant; wait a minute and run the command again"  # Retry-After: see below
    if status is not None and status >= 500:
        return "a Graph service error; run the command again (it resumes where it stopped)"
    if status == 404 or code in ("Request_ResourceNotFound", "Directory_ObjectNotFound"):
        return ("check the name or id; an object created moments ago may still be replicating in Entra: "
                "run the command again in a minute")
    if status == 409 or code == "Request_MultipleObjectsWithSameKeyValue":
        return ("an object with the same key already exists (often another run got there first): run the command "
                "again; it reads the current state and continues")
    if code == "CannotDeleteOrUpdateEnabledEntitlement":
        return "the role must be disabled (isEnabled false) in one update before it is changed or removed"
    return None


def from_response(status: int, body: bytes, headers, method: str, path: str, delegated: bool = False, *,
                  retry_after: float | None = None) -> GraphError:
    """The GraphError of an error answer. retry_after: the seconds its Retry-After asks for, as the client read it
    (seconds or an HTTP-date: graph/retry.py); read here as seconds when not given."""
    code, message, rid, details = parse_error_body(body)
    rid = rid or headers.get("request-id") or headers.get("client-request-id")
    if retry_after is None and headers.get("Retry-After"):
        try:
            retry_after = float(headers.get("Retry-After"))
        except ValueError:
            retry_after = None
    fix = fix_for(status, code, method, path, delegated)
    if status in (429, 503, 504) and retry_after:  # say the time Graph asked for, not a guess
        fix = f"Graph asked to wait {retry_after:g} s; run the command again after that"
    return GraphError(
        status=status, code=code, message=message or f"HTTP {status}", method=method, path=path,
        request_id=rid, fix=fix, retry_after=retry_after, details=details,
    )


def bad_answer(method: str, path: str, status: int, kind: str) -> GraphError:
    """A 2xx whose body is not what Graph sends (an HTML page from a proxy or captive portal, JSON cut short)."""
    return GraphError(
        status=status, code="UnexpectedAnswer", method=method, path=path,
        message=f"Graph answered {method} {path} with {kind}, not the JSON Graph sends; nothing is counted as done",
        fix="check --graph-endpoint or a proxy between here and Graph, then run the command again",
    )


def out_of_time(method: str, path: str, budget: float) -> GraphError:
    """The run's budget (--timeout) is spent."""
    return GraphError(
        status=None, code="Timeout", method=method, path=path,
        message=f"the run's time budget of {budget:g} s (--timeout) ran out",
        fix="run the command again (it continues where it stopped); raise --timeout or NATOMA_ENTRA_TIMEOUT for a "
            "slow network",
    )


def too_slow(method: str, path: str, host: str, seconds: float) -> GraphError:
    """One request got no complete answer in time (a stalled or trickling server)."""
    return GraphError(
        status=None, code="Timeout", method=method, path=path,
        message=f"no complete answer from {host} within {seconds:g} s",
        fix=f"check the network, proxy and --graph-endpoint/--cloud settings for {host}, then run the command again",
    )


ANSWER_LOST = "AnswerLost"  # the request went out and its answer did not come back: it may have been applied


def from_transport(exc: Exception, method: str, path: str, host: str, *, sent: bool = False) -> GraphError:
    """httpx errors surface unwrapped through the SDK's middleware (docs/dev/design-notes.md, the SDK as measured).
    sent: the request went out before the connection failed (its answer was lost), so it may have been applied."""
    kind = type(exc).__name__
    if sent:
        return GraphError(
            status=None, code=ANSWER_LOST, method=method, path=path,
            message=f"the connection to {host} broke before Graph answered ({kind}{': ' + str(exc) if str(exc) else ''}); "
                    "the request may have been applied",
            fix="run the command again: it reads the tenant first and does not repeat what was applied",
        )
    return GraphError(
        status=None, code="NetworkError", method=method, path=path,
        message=f"could not reach {host}: {kind}{': ' + str(exc) if str(exc) else ''}",
        fix=TLS_FIX if untrusted_certificate(exc) else
        f"check the network, proxy and --graph-endpoint/--cloud settings for {host}, then run the command again",
    )


# A TLS-inspecting proxy answers with its own certificate: the one variable that serves sign-in (requests, as az) and
# natoma-entra's own connections (natoma_entra/tls.py)
TLS_FIX = ("behind a TLS-inspecting proxy, set REQUESTS_CA_BUNDLE to a CA bundle that holds its certificate (sign-in "
           "and natoma-entra's own connections read it; natoma-entra docs configuration)")
# the modes whose credential talks to the sign-in host itself (not az, not the managed identity endpoint)
_REACHES_SIGN_IN = {"client-secret", "certificate", "workload-identity", "device-code", "browser"}


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it was raised from or during, nearest first (azure-core wraps requests' error)."""
    chain: list[BaseException] = []
    at: BaseException | None = exc
    while at is not None and at not in chain and len(chain) < 10:
        chain.append(at)
        at = at.__cause__ or at.__context__
    return chain


def untrusted_certificate(exc: BaseException) -> bool:
    return any("CERTIFICATE_VERIFY_FAILED" in str(e) for e in _causes(exc))


def _unreachable(exc: BaseException) -> bool:
    """The sign-in request got no answer (DNS, refused, reset, proxy): azure-core's ServiceRequestError."""
    from azure.core.exceptions import ServiceRequestError

    return any(isinstance(e, ServiceRequestError) for e in _causes(exc))


SIGN_IN_FIX = {
    "default": "sign in with `az login --allow-no-subscriptions`, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and "
               "AZURE_CLIENT_SECRET, or choose a mode with --auth "
               "(natoma-entra docs auth; https://natoma.github.io/natoma-entra/auth/)",
    "cli": "run `az login --allow-no-subscriptions` (with --tenant for another tenant), or choose another --auth",
    "client-secret": "check AZURE_CLIENT_ID, AZURE_CLIENT_SECRET (not expired) and --tenant",
    "certificate": "check AZURE_CLIENT_ID, AZURE_CLIENT_CERTIFICATE_PATH (and its password) and --tenant",
    "managed-identity": "run where a managed identity is attached (set AZURE_CLIENT_ID for a user-assigned one), "
                        "or choose another --auth",
    "workload-identity": "check AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE (the federated "
                         "credential must trust this workload)",
    "device-code": "complete the sign-in at the address shown, with an account of this tenant",
    "browser": "complete the sign-in in the browser, with an account of this tenant",
    "access-token": "set a fresh token in NATOMA_ENTRA_ACCESS_TOKEN",
}


def from_sign_in(exc: Exception, auth: str) -> NatomaEntraError:
    """azure-identity failures (no `az login`, bad secret, no managed identity) in one line, with the fix."""
    text = str(getattr(exc, "message", None) or exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if auth in _REACHES_SIGN_IN and untrusted_certificate(exc):
        return NatomaEntraError(f"sign-in failed with --auth {auth}: {first}", fix=TLS_FIX)
    if auth in _REACHES_SIGN_IN and _unreachable(exc):
        return NatomaEntraError(f"sign-in failed with --auth {auth}: {first}",
                                fix="check that this machine reaches the sign-in host of --cloud over HTTPS "
                                    "(login.microsoftonline.com for the global cloud): the network, and "
                                    "HTTPS_PROXY / NO_PROXY behind a proxy")
    return NatomaEntraError(f"sign-in failed with --auth {auth}: {first}",
                            fix=SIGN_IN_FIX.get(auth, "check the --auth mode and its settings (natoma-entra "
                                                      "docs auth; https://natoma.github.io/natoma-entra/auth/)"))
