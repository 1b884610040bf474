"""The one retry mechanism: which answers a Graph request waits out, and for how long. GraphClient.request applies it
to every request; a step says what is special about its request with a Policy.

Kinds of answers waited out (each bounded by the run's --timeout, GraphClient.remaining(), and said when over 2 s):

- Throttling: 429, 503, 504. Microsoft Graph docs concepts/throttling.md: a throttled request fails with 429 ("the
  requests fail": nothing was applied); "wait the number of seconds specified in the Retry-After header", then retry;
  without it, back off. concepts/errors.md: after a 503 "you may repeat the request after a delay, the length of
  which may be specified in a Retry-After header". Retry-After comes in seconds or as an HTTP-date (RFC 9110 section
  10.2.3 allows both); a request is never sent again earlier than it says. Without it: a short backoff (BACKOFF).
  At most MAX_RETRIES retries.
- An answer lost (the connection dropped after the request went out) or a 503/504: the write may have been applied.
  A request that is safe to send twice (reads, PUT, PATCH, DELETE) is repeated; one that is not (a POST that creates
  a job, a group, an app, an assignment, or starts a job) is repeated only after `Policy.applied`, a re-read, says it
  was not applied, and its answer is the object the re-read found when it was. A 429 needs no re-read: not processed.
- Replication: an object this run has just created may answer 403, 404 or 409 for a while (Terraform's azuread
  provider retries synchronization calls on 403 and 409 for this reason: internal/services/synchronization/
  synchronization.go, synchronizationRetryFunc). Waited out on the run's poll schedule (waits.py).
- Named lags (Lag): an answer Graph gives while an earlier write of this run reaches every replica, matched by its
  status and code or message, waited out on the same schedule; when the schedule runs out, the Lag's fix says so.
"""
from __future__ import annotations

import datetime as _dt
import email.utils
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping

if TYPE_CHECKING:
    from .errors import GraphError

RETRY_STATUSES = (429, 503, 504)  # throttling and a busy or unreachable service (concepts/errors.md)
MAX_RETRIES = 3
BACKOFF = (1.0, 2.0, 4.0)  # seconds, when no Retry-After is given
REPLICATING = (403, 404, 409)

JSON = dict[str, Any]
Reread = Callable[[], Awaitable["JSON | None"]]


@dataclass(frozen=True)
class Lag:
    """An answer Graph gives while an earlier write of this run reaches every replica."""

    name: str  # said while it is waited out
    status: int
    marker: str  # found (case-insensitively) in the error's code or message
    fix: str  # when the wait runs out; "{seconds}" is the time waited

    def matches(self, err: "GraphError") -> bool:
        marker = self.marker.lower()
        return err.status == self.status and (marker in (err.code or "").lower()
                                              or marker in (err.message or "").lower())


# Right after the PATCH that disables an app role, another replica may still hold it enabled and refuse the PATCH
# that changes or removes it (approle.md: disable first, then change it "in a subsequent call"). Terraform's azuread
# provider retries exactly this answer (internal/services/applications/applications.go, applicationUpdateRetryFunc).
DISABLE_LAG = Lag(name="the disabled role still reads enabled", status=400,
                  marker="CannotDeleteOrUpdateEnabledEntitlement",
                  fix="Graph has not applied the disable after {seconds:g} s; run the command again (the role is "
                      "disabled: the next run changes it)")
# A role just added to the application is copied to its service principal with a lag; until then an assignment of
# it is refused with this message (approleassignment.md; docs/graph-assumptions.md).
ROLE_NOT_ON_SP = Lag(name="the role is still being copied to the service principal", status=400,
                     marker="not found on application",
                     fix="Graph has not copied the role to the service principal after {seconds:g} s; run the "
                         "command again in a minute")


@dataclass(frozen=True)
class Policy:
    """What a request may wait out beyond throttling (which every request waits out).

    repeatable: the request may be sent again when its answer was lost or was 503/504 (None: by its method: every
    request but a POST, and the read-only POSTs). applied: for one that is not, the re-read made before repeating it:
    the object as it now reads when the request was applied (it becomes the request's answer), None when not.
    replicating: the request addresses an object this run has just created (403/404/409 are waited out).
    lags: named lags waited out. what: how the waits name the request ("starting the new provisioning job").
    """

    what: str = ""
    repeatable: bool | None = None
    applied: Reread | None = None
    replicating: bool = False
    lags: tuple[Lag, ...] = field(default_factory=tuple)

    def but(self, **changes: Any) -> "Policy":
        return replace(self, **changes)

    def waits_out(self, err: "GraphError") -> Lag | str | None:
        """The lag this answer is (a Lag, or "replicating"), None when it is not one this request waits out."""
        for lag in self.lags:
            if lag.matches(err):
                return lag
        if self.replicating and err.status in REPLICATING:
            return "replicating"
        return None


DEFAULT = Policy()
AFTER_CREATE = Policy(replicating=True)  # a request on an object this run has just created


def retry_after(headers: Mapping[str, str], now: _dt.datetime) -> float | None:
    """Seconds to wait from Retry-After: delta-seconds, or an HTTP-date (RFC 9110 section 10.2.3). A date is measured
    from the answer's own Date header when it has one (Graph's clock: no skew with ours), else from `now`. None when
    absent or unreadable; never negative."""
    value = (headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        when = _http_date(value)
        if when is None:
            return None
        since = _http_date(headers.get("Date") or "") or now
        return max(0.0, (when - since).total_seconds())
    return seconds if seconds >= 0 else None


def _http_date(value: str) -> _dt.datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=_dt.timezone.utc)
