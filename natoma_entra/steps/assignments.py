"""Step 2: each configured group is assigned to the enterprise app with its Natoma role (guide step 2).

Graph facts (graph-api.md section 3; Graph docs serviceprincipal-post-approleassignedto.md,
serviceprincipal-list-approleassignedto.md, approleassignment.md):
- POST /servicePrincipals/{id}/appRoleAssignedTo {principalId, resourceId, appRoleId}; DELETE .../{assignmentId}.
- The role must already show on the service principal ("Permission being assigned was not found on application").
- A duplicate (principal, resource, role) is refused with an "already exists" message: re-read and count it as done.
- Only security groups can be assigned; nested groups are not followed (Entra known-issues.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..graph.errors import GraphError, UsageError
from ..graph.lookups import find_group
from ..graph.odata import seg
from ..results import Change, StepResult
from ..roles import DISPLAY_NAME, ROLE_VALUES
from ..session import Session
from .common import failed, outcome, wait_until
from .roles import role_id

STEP = "assign"
DEFAULT_ACCESS = "00000000-0000-0000-0000-000000000000"


@dataclass
class AssignPlan:
    changes: list[Change]
    creates: list[dict] = field(default_factory=list)  # POST bodies
    deletes: list[dict] = field(default_factory=list)  # assignments to delete
    warnings: list[str] = field(default_factory=list)


async def resolve_groups(session: Session) -> list[tuple[str, dict]]:
    """(role value, group) for every configured group; bad input fails before anything is written."""
    async def read():
        pairs = session.config.group_pairs()
        if not pairs:
            raise UsageError("no groups configured",
                             fix="add a [groups] table to the config file, or pass --group ROLE=GROUP (e.g. --group admin='Natoma Admins')")
        groups = await session.graph.gather(*(find_group(session.graph, ref) for _, ref in pairs))
        out, seen = [], {}
        for (role, ref), group in zip(pairs, groups):
            if seen.get(group["id"]) == role:  # the same group named twice (by name and by id): once is enough
                continue
            if not group.get("securityEnabled"):
                kind = "a Microsoft 365 group" if "Unified" in (group.get("groupTypes") or []) else "not a security group"
                raise UsageError(f"group {group.get('displayName')!r} is {kind}; only security groups can be assigned to an app",
                                 fix="use a security group (or enable security on this group)")
            if group["id"] in seen and seen[group["id"]] != role:
                raise UsageError(f"group {group['displayName']!r} is configured for two roles ({seen[group['id']]} and {role}); "
                                 "its members would get two grants (MultipleGrantsNotSupported)",
                                 fix="give each group exactly one Natoma role")
            seen[group["id"]] = role
            out.append((role, group))
        return out

    return await session.cached("groups", read)


def _list_assigned(session: Session, sp_id: str):
    # $top 999: the largest page Graph accepts for directory lists (1-999; paging.md says $top support varies by
    # API, and appRoleAssignedTo documents the OData query parameters), so a big app is few round trips
    return session.graph.list(f"/servicePrincipals/{seg(sp_id)}/appRoleAssignedTo", {"$top": "999"})


async def read_assignments(session: Session) -> list[dict]:
    app = await session.app()
    return await session.cached("assignments", lambda: _list_assigned(session, app.sp_id))


def role_ids_on(sp_roles: list[dict]) -> dict[str, str]:
    return {r["value"]: r["id"] for r in sp_roles if r.get("value") in ROLE_VALUES and r.get("isEnabled")}


def plan(assignments: list[dict], wanted: list[tuple[str, dict]], role_ids: dict[str, str], sp_id: str, *,
         prune: bool = False, replace: bool = False, role_names: dict[str, str] | None = None) -> AssignPlan:
    """Pure: which assignments to create and delete so each wanted group holds its role."""
    role_names = role_names or {}
    ours = set(role_ids.values())
    changes, creates, deletes, warnings = [], [], [], []
    wanted_ids = {g["id"] for _, g in wanted}
    for role, group in wanted:
        rid = role_ids[role]
        name = group.get("displayName") or group["id"]
        held = [a for a in assignments if a.get("principalId") == group["id"]]
        if any(a.get("appRoleId") == rid for a in held):
            changes.append(Change(action="none", target=f"{name} -> {DISPLAY_NAME[role]}",
                                  detail={"groupId": group["id"], "role": role}))
        else:
            creates.append({"principalId": group["id"], "resourceId": sp_id, "appRoleId": rid})
            changes.append(Change(action="create", target=f"{name} -> {DISPLAY_NAME[role]}",
                                  detail={"groupId": group["id"], "role": role, "appRoleId": rid}))
        for other in (a for a in held if a.get("appRoleId") != rid):
            other_name = ("default access" if other.get("appRoleId") == DEFAULT_ACCESS
                          else role_names.get(other.get("appRoleId"), other.get("appRoleId")))
            if replace:
                deletes.append(other)
                changes.append(Change(action="delete", target=f"{name} -> {other_name}",
                                      detail={"assignmentId": other["id"], "why": "--replace: the group holds another role"}))
            else:
                warnings.append(f"group {name!r} also holds {other_name!r} on this app, so its members get two grants "
                                "(MultipleGrantsNotSupported); run `natoma-entra assign --replace` to keep only its Natoma role")
    if prune:
        for a in assignments:
            if (a.get("appRoleId") in ours and a.get("principalType") == "Group"
                    and a.get("principalId") not in wanted_ids):
                deletes.append(a)
                changes.append(Change(action="delete",
                                      target=f"{a.get('principalDisplayName') or a.get('principalId')} -> "
                                             f"{role_names.get(a['appRoleId'], a['appRoleId'])}",
                                      detail={"assignmentId": a["id"], "why": "--prune: group not configured"}))
    return AssignPlan(changes=changes, creates=creates, deletes=deletes, warnings=warnings)


def _already_exists(err: GraphError) -> bool:
    return err.status in (400, 409) and "already exist" in (err.message or "").lower()


def _role_not_on_sp(err: GraphError) -> bool:
    return err.status == 400 and "not found on application" in (err.message or "").lower()


async def run(session: Session) -> StepResult:
    app = await session.app()
    wanted, assignments = await session.graph.gather(resolve_groups(session), read_assignments(session))
    role_ids = role_ids_on(app.service_principal.get("appRoles") or [])
    missing = [r for r in ROLE_VALUES if r not in role_ids and any(w[0] == r for w in wanted)]
    info = {}
    if missing:
        if not session.dry_run:
            return StepResult(step=STEP, status="failed",
                              error=f"the app has no enabled role {', '.join(missing)} on its service principal",
                              fix="run `natoma-entra roles` (or `natoma-entra setup`) first")
        # dry run after a planned roles step: the ids are deterministic, so plan with them
        for r in missing:
            role_ids[r] = role_id(app.app_id, r)
        info["note"] = f"planned against roles not created yet ({', '.join(missing)})"
    role_names = {r.get("id"): r.get("displayName") or r.get("value") for r in app.service_principal.get("appRoles") or []}
    p = plan(assignments, wanted, role_ids, app.sp_id, prune=bool(session.options.get("prune")),
             replace=bool(session.options.get("replace")), role_names=role_names)
    result = outcome(STEP, p.changes, session.dry_run, warnings=p.warnings, info=info)
    if session.dry_run or not (p.creates or p.deletes):
        return result
    graph, base = session.graph, f"/servicePrincipals/{seg(app.sp_id)}/appRoleAssignedTo"
    try:
        for body in p.creates:
            await _create(session, base, body)
        for a in p.deletes:
            try:
                await graph.delete(f"{base}/{seg(a['id'])}")
            except GraphError as e:
                if e.status != 404:  # already gone: that is what we wanted
                    raise
    except GraphError as e:
        session.forget("assignments")
        return failed(STEP, e, p.changes, "changing the app's assignments")
    session.forget("assignments")
    return result


async def _create(session: Session, base: str, body: dict) -> None:
    graph = session.graph
    last: list[GraphError] = []

    async def attempt() -> bool:
        try:
            await graph.post(base, body)
            return True
        except GraphError as e:
            if _already_exists(e):  # re-read: a match means another run got there first
                current = await _list_assigned(session, body["resourceId"])
                if any(a.get("principalId") == body["principalId"] and a.get("appRoleId") == body["appRoleId"]
                       for a in current):
                    return True
                raise
            if _role_not_on_sp(e):  # the role is still replicating to the service principal
                last[:] = [e]
                return False
            raise

    if not await wait_until(attempt, session.options.get("poll_delays")):
        raise last[0]
