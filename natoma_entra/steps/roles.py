"""Step 1: the app registration has one enabled app role per Natoma role (guide step 1).

Graph facts (graph-api.md section 2; Graph docs api-reference/v1.0/resources/approle.md, application-update.md):
- PATCH appRoles replaces the whole collection: every role we do not own goes back exactly as read.
- An enabled role cannot be changed or removed: disable it in one PATCH, change or remove it in the next
  (otherwise 400 CannotDeleteOrUpdateEnabledEntitlement).
- `origin` is read-only and must not be sent.
- Roles are copied to the service principal with a lag; assignments need them there (approleassignment.md).
"""
from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field

from ..graph.errors import GraphError
from ..graph.odata import seg
from ..results import Change, StepResult
from ..roles import NATOMA_ROLES
from ..session import Session
from .common import failed, outcome, wait_until

STEP = "roles"
MEMBER_TYPES = ["User"]  # the portal's "Users/Groups" (approle.md: users and groups by setting ["User"])
# Template default roles (msiam_access, User): never pruned.
TEMPLATE_ROLE_IDS = {"b9632174-c057-4f7e-951b-be3adc52bfe6", "18d14569-c3bd-439b-9a66-3a2aee01d14f"}
_ROLE_NS = uuid.UUID("0b4f8d3e-7a52-4f0e-9d1c-6e61746f6d61")


def role_id(app_id: str, value: str) -> str:
    """Deterministic: two runs at the same time create the same role, not two."""
    return str(uuid.uuid5(_ROLE_NS, f"{app_id.lower()}/{value}"))


def description_for(display: str, value: str) -> str:
    return f"Natoma {display}: provisioned to Natoma with the role value '{value}'."


def desired_role(app_id: str, display: str, value: str, existing: dict | None = None) -> dict:
    role = {
        "allowedMemberTypes": list(MEMBER_TYPES),
        "description": description_for(display, value),
        "displayName": display,
        "id": role_id(app_id, value),
        "isEnabled": True,
        "value": value,
    }
    if existing is not None:  # keep its id, description, wider member types and any field we do not model
        role = {**_sendable(existing), **{k: role[k] for k in ("description", "displayName", "isEnabled", "value")},
                "allowedMemberTypes": sorted(set(existing.get("allowedMemberTypes") or []) | set(MEMBER_TYPES))}
    return role


def is_template_role(role: dict) -> bool:
    """The non-gallery template's default roles (msiam_access, User): never pruned, whatever their id."""
    return role.get("id") in TEMPLATE_ROLE_IDS or (
        role.get("value") is None and role.get("displayName") in ("msiam_access", "User"))


def _sendable(role: dict) -> dict:
    return {k: copy.deepcopy(v) for k, v in role.items() if k != "origin"}


def _differences(role: dict, display: str, value: str) -> list[str]:
    diffs = []
    if role.get("displayName") != display:
        diffs.append(f"displayName {role.get('displayName')!r} -> {display!r}")
    if role.get("description") != description_for(display, value):
        diffs.append("description brought back to the Natoma role's")
    if "User" not in (role.get("allowedMemberTypes") or []):  # a wider role (User + Application) also serves groups
        diffs.append(f"allowedMemberTypes {role.get('allowedMemberTypes')} -> also User (users and groups)")
    if not role.get("isEnabled"):
        diffs.append("isEnabled false -> true")
    return diffs


@dataclass
class RolesPlan:
    changes: list[Change]
    patches: list[list[dict]] = field(default_factory=list)  # each a whole appRoles collection, in order
    warnings: list[str] = field(default_factory=list)
    final: list[dict] = field(default_factory=list)


def plan(current: list[dict], app_id: str, *, prune: bool = False) -> RolesPlan:
    """Pure: the PATCH bodies that bring `current` to the three Natoma roles, keeping everything else."""
    changes: list[Change] = []
    warnings: list[str] = []
    disable_first: set[str] = set()  # ids of enabled roles that must be disabled in a first PATCH
    final = [_sendable(r) for r in current]
    by_value = {r.get("value"): i for i, r in enumerate(final) if r.get("value") is not None}
    ours = set()
    for display, value in NATOMA_ROLES:
        i = by_value.get(value)
        if i is None:
            role = desired_role(app_id, display, value)
            clash = [r for r in final if r.get("id") == role["id"]]
            if clash:  # our deterministic id holds a role with another value: a changed value; fix it in place
                i = final.index(clash[0])
            else:
                final.append(role)
                ours.add(role["id"])
                changes.append(Change(action="create", target=f"role {display} ({value})", detail={"id": role["id"]}))
                for r in current:
                    v = r.get("value") or ""
                    if v != value and v.lower() == value.lower():
                        warnings.append(f"role {r.get('displayName')!r} has value {v!r}; Natoma expects {value!r} "
                                        "(values are case-sensitive). It is left alone; remove it with --prune.")
                continue
        existing = final[i]
        ours.add(existing["id"])
        diffs = _differences(existing, display, value)
        if existing.get("value") != value:
            diffs.append(f"value {existing.get('value')!r} -> {value!r}")
        if not diffs:
            changes.append(Change(action="none", target=f"role {display} ({value})", detail={"id": existing["id"]}))
            continue
        if existing.get("isEnabled"):
            disable_first.add(existing["id"])
        final[i] = desired_role(app_id, display, value, existing)
        changes.append(Change(action="update", target=f"role {display} ({value})",
                              detail={"id": existing["id"], "why": "; ".join(diffs)}))
    if prune:
        keep = []
        for r in final:
            if r["id"] in ours or is_template_role(r):
                keep.append(r)
                continue
            if r.get("isEnabled"):
                disable_first.add(r["id"])
            changes.append(Change(action="delete", target=f"role {r.get('displayName')} ({r.get('value')})",
                                  detail={"id": r["id"], "why": "--prune: not a Natoma role"}))
        final = keep
    patches: list[list[dict]] = []
    if disable_first:
        first = []
        for r in current:
            r = _sendable(r)
            if r["id"] in disable_first:
                r["isEnabled"] = False
            first.append(r)
        patches.append(first)
    if any(c.action != "none" for c in changes):
        patches.append(final)
    return RolesPlan(changes=changes, patches=patches, warnings=warnings, final=final)


def _roles_path(session_app) -> str:
    # Template-instantiated apps have a local application object: roles go there. Apps without one (multi-tenant,
    # published elsewhere) carry their roles on the service principal (approle.md `origin`; graph-api.md section 2).
    if session_app.application is not None:
        return f"/applications/{seg(session_app.application['id'])}"
    return f"/servicePrincipals/{seg(session_app.sp_id)}"


def current_roles(app) -> list[dict]:
    holder = app.application if app.application is not None else app.service_principal
    return list(holder.get("appRoles") or [])


def sp_shows(sp_roles: list[dict], wanted: list[dict]) -> bool:
    seen = {(r.get("id"), r.get("value"), bool(r.get("isEnabled"))) for r in sp_roles}
    return all((r["id"], r.get("value"), bool(r.get("isEnabled"))) in seen for r in wanted)


async def run(session: Session) -> StepResult:
    app = await session.app()
    p = plan(current_roles(app), app.app_id, prune=bool(session.options.get("prune")))
    pruned = {c.detail["id"] for c in p.changes if c.action == "delete"}
    if pruned:  # removing a role that is still assigned takes access away from its holders: say so
        from .assignments import read_assignments

        for a in await read_assignments(session):
            if a.get("appRoleId") in pruned:
                p.warnings.append(f"--prune removes a role still assigned to {a.get('principalDisplayName')!r} "
                                  f"({a.get('principalType')}); it loses that access to the app")
    result = outcome(STEP, p.changes, session.dry_run, warnings=p.warnings)
    if session.dry_run or not p.patches:
        if not session.dry_run:
            ok = await _wait_for_sp(session, app, p.final)
            if not ok:
                result.warnings.append("the service principal does not show all Natoma roles yet; "
                                       "Graph is still replicating: run `natoma-entra assign` again in a minute")
        return result
    path = _roles_path(app)
    try:
        for body in p.patches:
            await session.graph.patch(path, {"appRoles": body})
    except GraphError as e:
        return failed(STEP, e, p.changes, "updating the app roles")
    holder = app.application if app.application is not None else app.service_principal
    holder["appRoles"] = p.final
    session.progress("waiting for the service principal to show the roles...")
    if not await _wait_for_sp(session, app, p.final):
        result.warnings.append("the service principal does not show the new roles yet (Graph replication); "
                               "run the command again in a minute")
    return result


async def _wait_for_sp(session: Session, app, final: list[dict]) -> bool:
    wanted = [r for r in final if r.get("value") in {v for _, v in NATOMA_ROLES}]
    if sp_shows(app.service_principal.get("appRoles") or [], wanted):
        return True

    async def check() -> bool:
        sp = await session.graph.get(f"/servicePrincipals/{seg(app.sp_id)}", {"$select": "id,appRoles"})
        app.service_principal["appRoles"] = sp.get("appRoles") or []
        return sp_shows(app.service_principal["appRoles"], wanted)

    return await wait_until(check, session.options.get("poll_delays"))
