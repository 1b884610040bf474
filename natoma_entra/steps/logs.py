"""Provisioning logs for the app (read-only): GET /auditLogs/provisioning, newest first.

Graph facts (Microsoft Graph docs provisioningobjectsummary-list.md; Entra docs
howto-analyze-provisioning-logs.md):
- $filter supports eq, contains, gt, lt; filters are case-sensitive, so
  status values are sent lower-case ('failure'). $orderby activityDateTime desc, $top, @odata.nextLink paging.
- Filters used here, only documented properties and operators (provisioningObjectSummary resource page):
  jobId eq '<the app's job id>', sourceIdentity/id eq '<user object id>', provisioningStatusInfo/status eq 'failure',
  activityDateTime gt <ISO date-time> (a bare literal; the list page documents eq, contains, gt and lt, not ge).
  The app's records are found by its job's id (a plain string property). Only when the app has no job (never set
  up, or the job was removed while its records are kept 30 days) servicePrincipal/id eq '<spId>' is used: the resource
  page documents eq on it, but types servicePrincipal as a collection, so it is the fallback, not the rule.
- Permission AuditLog.Read.All (GraphError names it on 403). Needs an Entra ID P1/P2 tenant; kept 30 days.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from ..graph.errors import GraphError
from ..errors import UsageError
from ..graph.lookups import find_user
from ..graph.odata import eq, is_guid
from ..results import StepResult
from ..session import Session
from .common import failed
from .job import read_job

STEP = "logs"
PATH = "/auditLogs/provisioning"
DEFAULT_LIMIT = 50
MAX_PAGE = 500  # $top per page; more records are read by following @odata.nextLink
_DURATION = re.compile(r"^\s*(\d+)\s*(m|min|mins|h|hr|hrs|d|day|days|w|wk|weeks?|s|sec)\s*$", re.I)
_UNIT = {"s": "seconds", "sec": "seconds", "m": "minutes", "min": "minutes", "mins": "minutes", "h": "hours",
         "hr": "hours", "hrs": "hours", "d": "days", "day": "days", "days": "days", "w": "weeks", "wk": "weeks",
         "week": "weeks", "weeks": "weeks"}
FIX_LICENSE = ("provisioning logs need an Entra ID P1 or P2 licence in the tenant (they are kept 30 days); read them "
               "in the portal otherwise: Enterprise applications -> Natoma -> Provisioning logs")


def parse_since(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """An ISO date or date-time (UTC when no offset is given), or a duration back from now: 30m, 1h, 2d, 1w."""
    now = now or dt.datetime.now(dt.timezone.utc)
    m = _DURATION.match(text or "")
    if m:
        return now - dt.timedelta(**{_UNIT[m.group(2).lower()]: int(m.group(1))})
    raw = (text or "").strip()
    try:
        value = dt.datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw)
    except ValueError:
        raise UsageError(f"--since {text!r} is neither an ISO date nor a duration",
                         fix="use a date such as 2025-06-01 or 2025-06-01T08:00:00Z, or a duration such as 1h, 2d, 30m")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def odata_time(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_filter(job_id: str | None, *, sp_id: str | None = None, user_id: str | None = None, errors: bool = False,
                 since: dt.datetime | None = None) -> str:
    parts = [eq("jobId", job_id) if job_id else eq("servicePrincipal/id", sp_id or "")]
    if user_id:
        parts.append(eq("sourceIdentity/id", user_id))
    if errors:
        parts.append(eq("provisioningStatusInfo/status", "failure"))
    if since is not None:
        parts.append(f"activityDateTime gt {odata_time(since)}")
    return " and ".join(parts)


def _get(doc: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(p)
    return doc


def summary(record: dict) -> dict:
    """The columns people read: time, user, action, status, error code, reason."""
    user = (_get(record, "sourceIdentity", "details", "UserPrincipalName") or _get(record, "sourceIdentity", "displayName")
            or _get(record, "targetIdentity", "displayName") or _get(record, "sourceIdentity", "id") or "")
    err = _get(record, "provisioningStatusInfo", "errorInformation") or {}
    return {
        "time": record.get("activityDateTime"),
        "user": user,
        "action": record.get("provisioningAction"),
        "status": _get(record, "provisioningStatusInfo", "status"),
        "errorCode": err.get("errorCode") if isinstance(err, dict) else None,
        "reason": err.get("reason") if isinstance(err, dict) else None,
    }


@dataclass(frozen=True)
class LogsQuery:
    """What `logs` was asked for: one user's records, failures only, since when, how many."""

    user: str | None = None
    errors: bool = False
    since: str | None = None
    limit: int = DEFAULT_LIMIT


async def run(session: Session, query: LogsQuery) -> StepResult:
    limit = query.limit or DEFAULT_LIMIT
    app = await session.app()
    since = parse_since(query.since) if query.since else None
    user_ref = query.user
    user_id = None
    info: dict[str, Any] = {}
    if user_ref:
        if is_guid(user_ref):
            user_id = user_ref  # an id is used as given: the user may be gone, their logs are not
        else:
            user = await find_user(session.graph, user_ref)  # UsageError (exit 2) for an unknown user
            user_id = user["id"]
            info["user"] = user.get("userPrincipalName") or user_id
    try:
        job = await read_job(session)
        flt = build_filter(job["id"] if job else None, sp_id=app.sp_id, user_id=user_id,
                           errors=query.errors, since=since)
        params = {"$filter": flt, "$orderby": "activityDateTime desc", "$top": str(min(limit, MAX_PAGE))}
        info.update({"filter": flt, "limit": limit})
        records = await session.graph.list(PATH, params, limit=limit)
    except GraphError as e:
        if "premium" in (e.code or "").lower() or "premium" in (e.message or "").lower():
            e.fix = FIX_LICENSE
        result = failed(STEP, e, what="reading the provisioning logs")
        result.info = info
        return result
    info["count"] = len(records)
    info["records"] = records
    return StepResult(step=STEP, status="unchanged", info=info)
