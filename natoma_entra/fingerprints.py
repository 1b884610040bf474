"""What a saved plan depends on: each object its steps read, as a fingerprint.

A plan is made from reads (the app and its roles, the configured groups, the app's assignments, the provisioning job
and its schema, the saved credentials, ...). Each read a run made is in its session's cache under a key
(session.py `cached`); here each becomes a view of the parts the plans are made from, and the view's fingerprint is
the SHA-256 of its canonical JSON. A plan file keeps only the fingerprints (plan_file.py), never the objects: so no
value read from the tenant (and no secret: the saved credentials read back with the token masked) is in the file.

`apply FILE` reads the same objects again and compares: one line per object whose fingerprint moved.

What each view keeps, and why:
- the app: its ids, its name, its tags and notes (natoma-entra's record of what it made: marks.py);
- the app roles: the application's roles as they are (PATCH appRoles sends the whole collection) and what the
  service principal shows (the roles step waits for it);
- the assignments: id, role and principal of each (display names are not what the operations name);
- the configured groups: each group's id, name and kind as resolved (a group --create-groups is to make, too);
- teardown's reads: the app's jobs, the configured groups, applications an interrupted teardown left;
- the provisioning job: id, template, status and schedule, quarantine or not (start plans from those; the last
  cycle's time changes every cycle and decides nothing);
- the job's schema and the template's: the whole schema (PUT schema sends it whole);
- the saved credentials: the values Graph reads back (the token reads back masked) and whether they can be read.
A read of a kind not listed is kept whole.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from .graph.lookups import App
    from .session import Session

View = Callable[[Any], Any]


def canonical(value: Any) -> str:
    """The canonical JSON of a value: sorted keys, no spaces, ASCII (the same bytes for the same data)."""
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def digest(value: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical(value).encode("ascii")).hexdigest()


def _plain(value: Any) -> Any:
    """Dataclasses and pydantic models as JSON data; anything else JSON cannot hold as its text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return _plain(value.model_dump(mode="json"))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


# -- the views --------------------------------------------------------------------------------------------------------

def _app_view(app: "App") -> dict[str, Any]:
    application = app.application or {}
    return {"servicePrincipalId": app.sp_id, "appId": app.app_id, "applicationId": application.get("id"),
            "displayName": app.display_name, "tags": sorted(str(t) for t in application.get("tags") or []),
            "notes": application.get("notes")}


def _by_id(items: Any) -> list[Any]:
    return sorted((_plain(i) for i in items or []), key=lambda i: canonical(i.get("id") if isinstance(i, dict) else i))


def _roles_view(app: "App") -> dict[str, Any]:
    return {"application": _by_id((app.application or {}).get("appRoles")) if app.application is not None else None,
            "servicePrincipal": _by_id(app.service_principal.get("appRoles"))}


def _assignments_view(assignments: list[dict]) -> list[dict]:
    return _by_id({k: a.get(k) for k in ("id", "appRoleId", "principalId", "principalType", "resourceId")}
                  for a in assignments)


def _groups_view(pairs: list[tuple[str, dict]]) -> list[dict]:
    return [{"role": role, **{k: g.get(k) for k in ("id", "displayName", "securityEnabled", "mailEnabled",
                                                     "groupTypes", "planned")}} for role, g in pairs]


def _teardown_groups_view(groups: list[dict]) -> list[dict]:
    return _by_id({k: g.get(k) for k in ("id", "displayName", "securityEnabled", "description", "uniqueName")}
                  for g in groups)


def _teardown_target_view(target: Any) -> list[dict]:
    """Beside the app (read on its own): applications an interrupted `teardown --delete-app` left."""
    return _by_id({k: a.get(k) for k in ("id", "appId", "displayName", "tags")}
                  for a in getattr(target, "orphans", []) or [])


def _jobs_view(jobs: list[dict]) -> list[Any]:
    return _by_id(_job_view(j) for j in jobs or [])


def _job_view(job: dict | None) -> dict[str, Any] | None:
    if job is None:
        return None
    status, schedule = job.get("status") or {}, job.get("schedule") or {}
    return {"id": job.get("id"), "templateId": job.get("templateId"), "status": status.get("code"),
            "schedule": schedule.get("state"), "quarantined": bool(status.get("quarantine"))}


def _schema_view(schema: dict | None) -> Any:
    # the answer's own annotations (@odata.context) are not part of the schema (steps/mapping.py `sendable`)
    return None if schema is None else {k: v for k, v in schema.items() if not str(k).startswith("@")}


def _secrets_view(secrets: Any) -> dict[str, Any]:
    return {"readable": getattr(secrets, "readable", None), "values": _plain(getattr(secrets, "values", secrets))}


def _templates_view(templates: list[dict]) -> list[Any]:
    return sorted(str(t.get("id")) for t in templates or [] if isinstance(t, dict))


# cache key (or its prefix, before ":") -> (what it is, in a refusal line; its view)
KINDS: dict[str, tuple[str, View]] = {
    "assignments": ("the app's assignments", _assignments_view),
    "groups": ("the configured groups", _groups_view),
    "teardown-groups": ("the configured groups", _teardown_groups_view),
    "teardown-target": ("applications an interrupted teardown left", _teardown_target_view),
    "teardown-jobs": ("the app's provisioning jobs", _jobs_view),
    "job": ("the provisioning job", _job_view),
    "schema": ("the provisioning job's schema (its mappings)", _schema_view),
    "secrets": ("the saved credentials (Tenant URL and scope)", _secrets_view),
    "templates": ("the app's provisioning templates", _templates_view),
    "template-schema": ("the provisioning template's schema", _schema_view),
}


def views(session: "Session") -> dict[str, tuple[str, Any]]:
    """key -> (label, view) of every object this run read, the app first (also when there is none: its absence is
    what an `app create` plan, or a teardown of a removed app, depends on)."""
    reads = session.reads()
    out: dict[str, tuple[str, Any]] = {}
    app = reads.get("app")
    if app is not None:
        out["app"] = ("the app", _app_view(app))
        out["app-roles"] = ("the app roles", _roles_view(app))
    else:
        planned = session.planned_app
        out["app"] = ("the app", {"found": False, "name": planned.display_name if planned is not None
                                  else session.config.app})
    for key, value in reads.items():
        if key == "app":
            continue
        label, view = KINDS.get(key.split(":", 1)[0], (f"the read {key!r}", _plain))
        out[key] = (label, view(value))
    return out


def fingerprints(session: "Session") -> dict[str, tuple[str, str]]:
    """key -> (label, fingerprint) of every object this run read."""
    return {key: (label, digest(view)) for key, (label, view) in views(session).items()}


def changed(saved: dict[str, tuple[str, str]], now: dict[str, tuple[str, str]]) -> list[str]:
    """One line per object whose fingerprint differs (gone, new, or changed), in the order they were read."""
    lines = []
    for key, (label, was) in saved.items():
        if key not in now:
            lines.append(f"{label}: changed since the plan was made (the plan read it; planning now does not)")
        elif now[key][1] != was:
            lines.append(f"{label}: changed since the plan was made")
    for key, (label, _) in now.items():
        if key not in saved:
            lines.append(f"{label}: changed since the plan was made (planning now reads it; the plan did not)")
    return lines
