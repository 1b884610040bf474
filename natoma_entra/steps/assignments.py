"""Step 2: each configured group is assigned to the enterprise app with its Natoma role (guide step 2).

Graph facts (graph-api.md section 3; Graph docs serviceprincipal-post-approleassignedto.md,
serviceprincipal-list-approleassignedto.md, approleassignment.md):
- POST /servicePrincipals/{id}/appRoleAssignedTo {principalId, resourceId, appRoleId}; DELETE .../{assignmentId}.
- The role must already show on the service principal ("Permission being assigned was not found on application").
- A duplicate (principal, resource, role) is refused with an "already exists" message: re-read and count it as done.
- Only security groups can be assigned; nested groups are not followed (Entra known-issues.md).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ..graph.errors import GraphError, UsageError
from ..graph.lookups import GroupNotFound, find_group
from ..graph.odata import seg
from ..natoma_roles import DISPLAY_NAME, ROLE_VALUES
from ..results import Change, StepResult
from .base import DRIFTED, Facts, Operation, Plan
from .common import REPLICATING, failed, wait_until
from .groups import is_planned, new_group_body, planned_group
from .roles import role_id

NAME = "assign"
DEFAULT_ACCESS = "00000000-0000-0000-0000-000000000000"


@dataclass
class AssignmentChanges:
    changes: list[Change]
    creates: list[dict] = field(default_factory=list)  # POST bodies
    deletes: list[dict] = field(default_factory=list)  # assignments to delete
    warnings: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)  # grants of our roles to principals not configured (kept)


async def resolve_groups(session) -> list[tuple[str, dict]]:
    """(role value, group) for every configured group; bad input fails before anything is written."""
    async def read():
        pairs = session.config.group_pairs()
        if not pairs:
            raise UsageError("no groups configured",
                             fix="add a [groups] table to the config file, or pass --group ROLE=GROUP (e.g. --group admin='Natoma Admins')")
        create = session.options.create_groups

        async def find(ref: str) -> dict:
            try:
                return await find_group(session.graph, ref)
            except GroupNotFound:  # --create-groups: planned here, created by apply before it is assigned
                if not create:
                    raise
                return planned_group(ref)

        groups = await session.graph.gather(*(find(ref) for _, ref in pairs))
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


ASSIGNMENT_FIELDS = "id,appRoleId,principalId,principalType,principalDisplayName,resourceId"


def _list_assigned(session, sp_id: str):
    # $top 999: the largest page Graph accepts for directory lists (1-999; paging.md says $top support varies by
    # API, and appRoleAssignedTo documents the OData query parameters), so a big app is few round trips
    # $select: the fields the steps, doctor and audit use (the appRoleAssignment resource page lists them; the
    # list operation takes $select like other directory lists)
    return session.graph.list(f"/servicePrincipals/{seg(sp_id)}/appRoleAssignedTo",
                              {"$select": ASSIGNMENT_FIELDS, "$top": "999"})


async def read_assignments(session) -> list[dict]:
    app = await session.app()
    return await session.cached("assignments", lambda: _list_assigned(session, app.sp_id))


def role_ids_on(sp_roles: list[dict]) -> dict[str, str]:
    return {r["value"]: r["id"] for r in sp_roles if r.get("value") in ROLE_VALUES and r.get("isEnabled")}


def assignment_changes(assignments: list[dict], wanted: list[tuple[str, dict]], role_ids: dict[str, str], sp_id: str,
                       *, prune: bool = False, replace: bool = False,
                       role_names: dict[str, str] | None = None) -> AssignmentChanges:
    """Pure: which assignments to create and delete so each wanted group holds its role."""
    role_names = role_names or {}
    ours = set(role_ids.values())
    changes, creates, deletes, warnings = [], [], [], []
    wanted_ids = {g["id"] for _, g in wanted}
    for role, group in wanted:
        rid = role_ids[role]
        name = group.get("displayName") or group["id"]
        if is_planned(group):
            changes.append(Change(action="create", target=f"group {name} (security group)",
                                  detail={"role": role, "why": "--create-groups: no group has this name"}))
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
    # Privilege drift: a grant of one of our roles to a principal that is not configured (a group, a user, a service
    # principal, added by hand). Removed only with --prune; otherwise reported (status: drifted).
    foreign = []
    for a in assignments:
        if a.get("appRoleId") in ours and a.get("principalId") not in wanted_ids:
            label = (f"{a.get('principalDisplayName') or a.get('principalId')} ({a.get('principalType') or 'principal'})"
                     f" -> {role_names.get(a['appRoleId'], a['appRoleId'])}")
            if prune:
                deletes.append(a)
                changes.append(Change(action="delete", target=label,
                                      detail={"assignmentId": a["id"], "principalId": a.get("principalId"),
                                              "why": "--prune: not configured"}))
            else:
                foreign.append(label)
    if foreign:
        warnings.append(f"{len(foreign)} grant(s) of a Natoma role to principals that are not configured: "
                        f"{'; '.join(foreign)}; add them to the config, or remove them with "
                        "`natoma-entra assign --prune`")
    return AssignmentChanges(changes=changes, creates=creates, deletes=deletes, warnings=warnings,
                             foreign=foreign)


def _already_exists(err: GraphError) -> bool:
    return err.status in (400, 409) and "already exist" in (err.message or "").lower()


def _role_not_on_sp(err: GraphError) -> bool:
    return err.status == 400 and "not found on application" in (err.message or "").lower()


# -- the step ---------------------------------------------------------------------------------------------------------

@dataclass
class Current:
    app: object  # graph.lookups.App
    wanted: list[tuple[str, dict]]  # (role value, group) for every configured group
    assignments: list[dict]


async def read(session) -> Current:
    app = await session.app()
    wanted, assignments = await session.graph.gather(resolve_groups(session), read_assignments(session))
    return Current(app=app, wanted=wanted, assignments=assignments)


def plan(current: Current, desired, facts: Facts) -> Plan:
    """Pure: the assignments to create and delete, against the role ids the roles step leaves (or the service
    principal shows, when the roles step is not part of this run)."""
    app = current.app
    sp_roles = app.service_principal.get("appRoles") or []
    role_ids = dict(facts.role_ids) or role_ids_on(sp_roles)
    missing = [r for r in ROLE_VALUES if r not in role_ids and any(w[0] == r for w in current.wanted)]
    info: dict = {}
    for r in missing:  # role ids are deterministic: plan with them, but a real run needs the roles first
        role_ids[r] = role_id(app.app_id, r)
    if missing:
        info["note"] = f"planned against roles not created yet ({', '.join(missing)})"
    role_names = {r.get("id"): r.get("displayName") or r.get("value") for r in sp_roles}
    d = assignment_changes(current.assignments, current.wanted, role_ids, app.sp_id, prune=desired.options.prune,
                           replace=desired.options.replace, role_names=role_names)
    base = f"/servicePrincipals/{seg(app.sp_id)}/appRoleAssignedTo"
    ops = [Operation(kind="create-group", method="POST", path="/groups", body=new_group_body(g["displayName"], role),
                     why=g["id"]) for role, g in current.wanted if is_planned(g)]
    ops += [Operation(kind="create-assignment", method="POST", path=base, body=body) for body in d.creates]
    ops += [Operation(kind="delete-assignment", method="DELETE", path=f"{base}/{seg(a['id'])}") for a in d.deletes]
    plan_ = Plan(step=NAME, changes=d.changes, operations=ops, warnings=d.warnings, info=info,
                 state=DRIFTED if d.foreign and not d.creates and not d.deletes else None)
    if missing:
        plan_.needs = f"the app has no enabled role {', '.join(missing)} on its service principal"
        plan_.needs_fix, plan_.needs_input = "run `natoma-entra roles` (or `natoma-entra setup`) first", False
    return plan_


async def apply(session, plan: Plan, facts: Facts) -> tuple[StepResult, dict]:
    graph = session.graph
    created: dict[str, str] = {}  # planned group id -> the id Graph gave it
    try:
        for op in (op for op in plan.operations if op.kind == "create-group"):  # groups first: they are assigned
            group = await graph.post(op.path, op.body)
            if not isinstance(group, dict) or not group.get("id"):
                raise GraphError(status=502, code="UnconfirmedWrite", method="POST", path=op.path,
                                 message="Graph answered the group's POST without the group",
                                 fix="run the command again: it finds the group if it was created")
            created[op.why] = group["id"]
            session.progress(f"created group {op.body['displayName']!r}; it is assigned once Graph shows it")
        # the assignments do not depend on each other: they go out together (one round trip, not one each)
        creates = [dict(op.body, principalId=created.get(op.body["principalId"], op.body["principalId"]))
                   for op in plan.operations if op.kind == "create-assignment"]
        path = next((op.path for op in plan.operations if op.kind == "create-assignment"), "")
        results = await asyncio.gather(*(_create(session, path, body) for body in creates), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        for op in (op for op in plan.operations if op.kind == "delete-assignment"):
            try:
                await graph.delete(op.path)
            except GraphError as e:
                if e.status != 404:  # already gone: that is what we wanted
                    raise
    except GraphError as e:
        session.forget("assignments", "groups")
        return failed(NAME, e, plan.changes, "changing the app's assignments"), {}
    session.forget("assignments", "groups" if created else "")
    return plan.result("changed"), {}


async def _create(session, base: str, body: dict) -> None:
    """POST one assignment. "Already exists" after a re-read that finds it counts as done (another run, or a dropped
    answer to our own earlier POST); the role still replicating to the service principal is waited for. A 2xx
    whose answer is not the created assignment counts only when a re-read finds it."""
    graph = session.graph
    last: list[GraphError] = []

    async def present() -> bool:
        current = await _list_assigned(session, body["resourceId"])
        return any(a.get("principalId") == body["principalId"] and a.get("appRoleId") == body["appRoleId"]
                   for a in current)

    async def attempt() -> bool:
        try:
            created = await graph.post(base, body)
        except GraphError as e:
            if _already_exists(e):
                if await present():
                    return True
                raise
            if _role_not_on_sp(e) or e.status in REPLICATING:  # the role or the group is still replicating
                last[:] = [e]
                return False
            raise
        if isinstance(created, dict) and created.get("id") and created.get("appRoleId") == body["appRoleId"]:
            return True
        if await present():  # the answer did not show the assignment: believe only a re-read
            return True
        raise GraphError(status=502, code="UnconfirmedWrite", method="POST", path=base,
                         message="Graph answered the assignment's POST without the assignment, and a re-read does "
                                 "not find it",
                         fix="check --graph-endpoint or a proxy between you and Graph, then run the command again")

    if not await wait_until(attempt):
        raise last[0]
