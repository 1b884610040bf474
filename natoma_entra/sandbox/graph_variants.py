"""What GraphHandler plays around every request, beyond the endpoints themselves (sandbox/options.py VARIANTS):

- throttled writes (`throttled-writes`, `retry-after-http-date`): every write is answered 429 with Retry-After once
  before it is applied (Microsoft Graph docs concepts/throttling.md: "writes are throttled but reads are still
  permitted"; the throttled request was not processed);
- Retry-After as an HTTP-date (`retry-after-http-date`, RFC 9110 section 10.2.3) on every answer that carries one;
- empty pages (`empty-pages`): a page may hold no items and still carry @odata.nextLink (concepts/paging.md);
- forward-compatible fields (`forward-compatible-fields`): annotations and properties added after the CLI was written,
  on every object the answer holds.

And, whatever the variants, the ledger of Retry-After: every request sent again before the Retry-After it was given
is recorded (`RetryAfterLedger.early`), so a test can assert that no client ever does it.

Every time is the tenant's (its clock and wall clock), so a test's simulated clock plays them without waiting.
"""
from __future__ import annotations

import datetime as _dt
import email.utils
import hashlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from natoma_entra.sandbox import options as V
from natoma_entra.sandbox.state import GraphFault

if TYPE_CHECKING:
    from natoma_entra.sandbox.state import Tenant

Key = tuple[str, str, str]  # (method, path with query, digest of the body): "the same request"

FUTURE_PROPERTY = "futureProperty"  # a property Microsoft adds after the CLI was written
FUTURE_VALUE = {"addedLater": True, "kind": "a complex value"}
TIPS = "@microsoft.graph.tips"  # an instance annotation Graph adds to some answers
# the last path segments that name what an answer holds, for its @odata.type
_TYPES = {"applications": "application", "servicePrincipals": "servicePrincipal", "groups": "group", "users": "user",
          "appRoleAssignedTo": "appRoleAssignment", "appRoleAssignments": "appRoleAssignment",
          "jobs": "synchronizationJob", "templates": "synchronizationTemplate", "schema": "synchronizationSchema",
          "provisioning": "provisioningObjectSummary", "applicationTemplates": "applicationTemplate"}


def request_key(method: str, path: str, body: bytes) -> Key:
    return method.upper(), path, hashlib.sha256(body or b"").hexdigest()


def http_date(moment: _dt.datetime) -> str:
    return email.utils.format_datetime(moment.astimezone(_dt.timezone.utc), usegmt=True)


@dataclass
class Early:
    """A request sent again before the Retry-After it was given."""

    method: str
    path: str
    too_soon: float  # seconds before the moment it was told


class RetryAfterLedger:
    """When each request that was told to wait (429/503/504 with Retry-After) may come again, and who came early."""

    def __init__(self, tenant: "Tenant"):
        self.tenant = tenant
        self.not_before: dict[Key, float] = {}  # tenant clock
        self.held: dict[Key, float] = {}  # writes the throttling variants hold back once: when they may pass
        self.early: list[Early] = []

    def arrived(self, key: Key) -> None:
        until = self.not_before.get(key)
        if until is None:
            return
        now = self.tenant.clock()
        if now < until:
            self.early.append(Early(key[0], key[1], until - now))
        else:
            del self.not_before[key]

    def throttle(self, key: Key, write: bool) -> GraphFault | None:
        """The 429 a throttling variant answers a write with, once, before it is applied (None: let it through)."""
        if not write or not self.tenant.variants & {V.THROTTLED_WRITES, V.RETRY_AFTER_DATE}:
            return None
        if key not in self.held:
            self.held[key] = self._retry_after(V.THROTTLE_SECONDS)[1]
        left = self.held[key] - self.tenant.clock()
        if left <= 0:
            return None
        return GraphFault(429, "TooManyRequests", "Too many requests. Writes to this tenant are throttled; retry "
                          "after the time in Retry-After.", {"Retry-After": self._retry_after(left)[0]})

    def answered(self, key: Key, status: int, headers: dict[str, str]) -> None:
        """Note the Retry-After an answer gives (made an HTTP-date under `retry-after-http-date`); a write applied
        leaves the throttling variants' hold."""
        if status < 400:
            self.held.pop(key, None)
            return
        value = headers.get("Retry-After")
        if value is None:
            return
        seconds = _seconds(value)
        if seconds is None:  # a date already
            moment = _date(value)
            if moment is None:
                return
            self.not_before[key] = self.tenant.clock() + (moment - self.tenant.now()).total_seconds()
            return
        if V.RETRY_AFTER_DATE in self.tenant.variants:
            headers["Retry-After"], self.not_before[key] = self._retry_after(seconds)
        else:
            self.not_before[key] = self.tenant.clock() + seconds

    def _retry_after(self, seconds: float) -> tuple[str, float]:
        """(the Retry-After value for a wait of `seconds`, the moment it names on the tenant's clock). Both forms
        are rounded up (whole seconds): never earlier than the wait."""
        if V.RETRY_AFTER_DATE in self.tenant.variants:
            now = self.tenant.now()
            moment = _whole_second(now + _dt.timedelta(seconds=seconds))
            return http_date(moment), self.tenant.clock() + (moment - now).total_seconds()
        whole = math.ceil(seconds)
        return str(whole), self.tenant.clock() + whole


def _date(value: str) -> _dt.datetime | None:
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _whole_second(moment: _dt.datetime) -> _dt.datetime:
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + _dt.timedelta(seconds=1)


# -- empty pages --------------------------------------------------------------------------------------------------

EMPTY_BEFORE = "e"  # a skiptoken that serves the page it names: the empty page before it carried it
EMPTY_AFTER = "z"  # the skiptoken of the empty page after the last


def empty_pages(variants: frozenset[str], token: str | None) -> tuple[str | None, str | None]:
    """Under `empty-pages`: (the real skiptoken to serve, None) or (None, the skiptoken the empty page's nextLink
    carries). Without the variant: (token, None)."""
    if V.EMPTY_PAGES not in variants:
        return token, None
    if token is not None and token.startswith(EMPTY_BEFORE):
        return token[len(EMPTY_BEFORE):] or None, None
    return None, EMPTY_BEFORE + (token or "")


# -- forward-compatible fields -------------------------------------------------------------------------------------

def forward_compatible(body: Any, path: str, selected: bool) -> Any:
    """The answer as a later Graph may send it: an instance annotation on the answer, @odata.type on what it holds,
    and (unless $select chose the properties) a property the CLI does not know, annotated, on every object."""
    if not isinstance(body, dict):
        return body
    body.setdefault(TIPS, "Use $select to choose only the properties your app needs.")
    segs = [s for s in path.split("?")[0].split("/") if s]
    kind = next((_TYPES[s] for s in reversed(segs[-2:]) if s in _TYPES), None)
    value = body.get("value")
    items: list[Any] = value if isinstance(value, list) else [body]
    for item in items:
        if isinstance(item, dict) and kind:
            item.setdefault("@odata.type", f"#microsoft.graph.{kind}")
    if not selected:
        _add_future(body)
    return body


def _add_future(value: Any) -> None:
    if isinstance(value, dict):
        for k, v in list(value.items()):
            if not k.startswith("@") and k != FUTURE_PROPERTY:
                _add_future(v)
        if "value" not in value or not isinstance(value.get("value"), list):  # not a collection's envelope
            value.setdefault(FUTURE_PROPERTY, dict(FUTURE_VALUE))
            value.setdefault(f"{FUTURE_PROPERTY}@odata.type", "#microsoft.graph.futureComplexType")
    elif isinstance(value, list):
        for item in value:
            _add_future(item)
