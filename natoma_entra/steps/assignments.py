"""Step 2: each configured group is assigned to the enterprise app with its Natoma role (guide step 2).

Graph facts (Microsoft Graph docs serviceprincipal-post-approleassignedto.md,
serviceprincipal-list-approleassignedto.md, approleassignment.md):
- POST /servicePrincipals/{id}/appRoleAssignedTo {principalId, resourceId, appRoleId}; DELETE .../{assignmentId}.
- The role must already show on the service principal ("Permission being assigned was not found on application").
- A duplicate (principal, resource, role) is refused with an "already exists" message: re-read and count it as done.
- Only security groups can be assigned; nested groups are not followed (Entra known-issues.md).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Awaitable, Callable, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from ..errors import UsageError
from ..graph.errors import GraphError
from ..graph.lookups import App, GroupNotFound, find_group
from ..graph.odata import seg
from ..graph.retry import AFTER_CREATE, ROLE_NOT_ON_SP, Policy
from ..marks import group_ids, group_tag, record_or_warn
from ..natoma_roles import DISPLAY_NAME, ROLE_VALUES, role_id
from ..results import Change
from .base import DRIFTED, JSON, NEW_ID, Applied, ApplyContext, Desired, Facts, Operation, Options, Plan, Step
from .common import failed, wait_until
from .groups import has_our_unique_name, is_planned, new_group_body, planned_group, upsert_path

if TYPE_CHECKING:
    from ..session import Session

NAME = "assign"
DEFAULT_ACCESS = "00000000-0000-0000-0000-000000000000"


@dataclass
class AssignmentChanges:
    changes: list[Change]
    creates: list[dict] = field(default_factory=list)  # POST bodies
    deletes: list[dict] = field(default_factory=list)  # assignments to delete
    warnings: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)  # grants of our roles to principals not configured (kept)


async def resolve_groups(session: "Session", *, create: bool = False) -> list[tuple[str, dict]]:
    """(role value, group) for every configured group; bad input fails before anything is written. With `create`
    (--create-groups), a configured name no group has is a planned group, created by apply."""
    async def read() -> list[tuple[str, dict]]:
        pairs = session.config.group_pairs()
        if not pairs:
            raise UsageError("no groups configured",
                             fix="add a [groups] table to the config file, or pass --group ROLE=GROUP (e.g. --group admin='Natoma Admins')")

        missing: list[GroupNotFound] = []

        async def find(ref: str) -> dict:
            try:
                return await find_group(session.graph, ref)
            except GroupNotFound as e:  # --create-groups: planned here, created by apply before it is assigned
                if not create:
                    missing.append(e)
                return planned_group(ref)

        groups = await session.graph.gather(*(find(ref) for _, ref in pairs))
        if missing:  # every missing group named at once, in the config's order
            raise GroupNotFound.of([e for ref in dict.fromkeys(r for _, r in pairs) for e in missing if e.ref == ref])
        out: list[tuple[str, dict]] = []
        seen: dict[str, str] = {}
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

    return await session.cached(f"groups:{create}", read)


ASSIGNMENT_FIELDS = "id,appRoleId,principalId,principalType,principalDisplayName,resourceId"


def _list_assigned(session: "Session", sp_id: str) -> Any:
    # $top 999: the largest page Graph accepts for directory lists (1-999; paging.md says $top support varies by
    # API, and appRoleAssignedTo documents the OData query parameters), so a big app is few round trips
    # $select: the fields the steps, doctor and audit use (the appRoleAssignment resource page lists them; the
    # list operation takes $select like other directory lists)
    return session.graph.list(f"/servicePrincipals/{seg(sp_id)}/appRoleAssignedTo",
                              {"$select": ASSIGNMENT_FIELDS, "$top": "999"})


async def read_assignments(session: "Session") -> list[dict]:
    app = await session.app()
    if app.planned:
        return []  # the app this run creates has no assignments yet
    return await session.cached("assignments", lambda: _list_assigned(session, app.sp_id))


def role_ids_on(sp_roles: list[dict]) -> dict[str, str]:
    return {r["value"]: r["id"] for r in sp_roles if r.get("value") in ROLE_VALUES and r.get("isEnabled")}


def _named_users(assignments: list[dict], ours: set[str], names: tuple[str, ...]) -> set[str]:
    """The principal ids of the users `--prune-user` names (object id, or display name as the assignment shows it)
    among the holders of our roles. A name that matches no such user, or several, is bad input (exit 2)."""
    held = [a for a in assignments if a.get("appRoleId") in ours and a.get("principalType") == "User"]
    out: set[str] = set()
    for name in names:
        key = name.strip().casefold()
        ids = {str(a.get("principalId")) for a in held
               if str(a.get("principalId") or "").lower() == key
               or str(a.get("principalDisplayName") or "").casefold() == key}
        if not ids:
            raise UsageError(f"--prune-user {name!r}: no user holds a Natoma role on this app directly under that "
                             "name or object id", fix="give the user's object id or display name as `natoma-entra "
                                                      "status` lists the grant")
        if len(ids) > 1:
            raise UsageError(f"--prune-user {name!r} names {len(ids)} users holding a Natoma role: "
                             f"{', '.join(sorted(ids))}", fix="give the object id of the one to remove")
        out |= ids
    return out


def assignment_changes(assignments: list[dict], wanted: list[tuple[str, dict]], role_ids: dict[str, str], sp_id: str,
                       *, prune: bool = False, replace: bool = False, prune_users: tuple[str, ...] = (),
                       role_names: dict[str, str] | None = None) -> AssignmentChanges:
    """Pure: which assignments to create and delete so each wanted group holds its role. --prune removes grants of
    our roles to principals that are not configured, never a user's own grant (docs/assign.md): a user's grant goes
    only when --prune-user names that user (bad input, exit 2, when the name matches no such grant)."""
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
            other_id = str(other.get("appRoleId"))
            other_name = "default access" if other_id == DEFAULT_ACCESS else role_names.get(other_id, other_id)
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
    named = _named_users(assignments, ours, prune_users) if prune_users else set()
    for a in assignments:
        if a.get("appRoleId") in ours and a.get("principalId") not in wanted_ids:
            label = (f"{a.get('principalDisplayName') or a.get('principalId')} ({a.get('principalType') or 'principal'})"
                     f" -> {role_names.get(a['appRoleId'], a['appRoleId'])}")
            user = a.get("principalType") == "User"
            if (prune and not user) or a.get("principalId") in named:
                deletes.append(a)
                changes.append(Change(action="delete", target=label,
                                      detail={"assignmentId": a["id"], "principalId": a.get("principalId"),
                                              "why": "--prune-user: named" if user else "--prune: not configured"}))
            else:
                foreign.append(label)
    if foreign:
        users = any("(User) ->" in f for f in foreign)
        warnings.append(f"{len(foreign)} grant(s) of a Natoma role to principals that are not configured: "
                        f"{'; '.join(foreign)}; add them to the config, or remove them with "
                        "`natoma-entra assign --prune`"
                        + (" (a user's own grant only with --prune-user NAME)" if users else ""))
    return AssignmentChanges(changes=changes, creates=creates, deletes=deletes, warnings=warnings,
                             foreign=foreign)


def _already_exists(err: GraphError) -> bool:
    return err.status in (400, 409) and "already exist" in (err.message or "").lower()


# -- the step ---------------------------------------------------------------------------------------------------------

class ExistingPrincipal(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["existing"] = "existing"
    id: str


class NewGroup(BaseModel):
    """The group an earlier operation of this run creates (--create-groups), by its display name."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["new"] = "new"
    name: str


PrincipalRef = Annotated[Union[ExistingPrincipal, NewGroup], Field(discriminator="kind")]


class CreateGroup(Operation):
    """PATCH /groups(uniqueName='...') with `Prefer: create-if-missing`: a security group for a configured name no
    group has (group-upsert.md). The uniqueName comes from the name (steps/groups.py), so a second run creating the
    same group at the same time gets the first one's group, never a twin."""

    kind: Literal["create-group"] = "create-group"
    name: str
    role: str

    @property
    def method(self) -> str:
        return "PATCH"

    @property
    def path(self) -> str:
        return upsert_path(self.name)

    @property
    def body(self) -> JSON:
        return new_group_body(self.name, self.role)


class RecordGroups(Operation):
    """PATCH the app registration's tags: the groups --create-groups made for this app (natoma_entra/marks.py;
    teardown --delete-groups deletes only those). `ids` are the existing groups to record; the ones this run creates
    are recorded once Graph has given their ids."""

    kind: Literal["record-groups"] = "record-groups"
    application_id: str
    ids: list[str] = []

    @property
    def method(self) -> str:
        return "PATCH"

    @property
    def path(self) -> str:
        planned = not self.application_id or self.application_id == NEW_ID  # the app this run creates
        return f"/applications/{NEW_ID if planned else seg(self.application_id)}"

    @property
    def body(self) -> JSON:
        return {"tags": ["...", *(group_tag(i) for i in self.ids)]}


class CreateAssignment(Operation):
    kind: Literal["create-assignment"] = "create-assignment"
    sp_id: str
    principal: PrincipalRef
    app_role_id: str

    @property
    def method(self) -> str:
        return "POST"

    @property
    def path(self) -> str:
        return f"/servicePrincipals/{seg(self.sp_id)}/appRoleAssignedTo"

    @property
    def body(self) -> JSON:
        pid = self.principal.id if isinstance(self.principal, ExistingPrincipal) else NEW_ID
        return {"principalId": pid, "resourceId": self.sp_id, "appRoleId": self.app_role_id}

    def body_for(self, principal_id: str) -> JSON:
        return {"principalId": principal_id, "resourceId": self.sp_id, "appRoleId": self.app_role_id}


class DeleteAssignment(Operation):
    kind: Literal["delete-assignment"] = "delete-assignment"
    sp_id: str
    assignment_id: str

    @property
    def method(self) -> str:
        return "DELETE"

    @property
    def path(self) -> str:
        return f"/servicePrincipals/{seg(self.sp_id)}/appRoleAssignedTo/{seg(self.assignment_id)}"


AssignOperation = Union[CreateGroup, RecordGroups, CreateAssignment, DeleteAssignment]


@dataclass
class Current:
    app: App
    wanted: list[tuple[str, dict]]  # (role value, group) for every configured group
    assignments: list[dict]


class AssignStep(Step[Current, AssignOperation, Options]):
    name = NAME
    reading = "reading the app's assignments"

    async def read(self, session: "Session", desired: Desired[Options]) -> Current:
        app = await session.app()
        wanted, assignments = await session.graph.gather(
            resolve_groups(session, create=desired.options.create_groups), read_assignments(session))
        return Current(app=app, wanted=wanted, assignments=assignments)

    def plan(self, current: Current, desired: Desired[Options], facts: Facts) -> Plan[AssignOperation]:
        return plan(current, desired, facts)

    async def apply(self, context: ApplyContext, plan: Plan[AssignOperation]) -> Applied:
        return await apply(context, plan)


def plan(current: Current, desired: Desired[Options], facts: Facts) -> Plan[AssignOperation]:
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
                           replace=desired.options.replace, prune_users=desired.options.prune_users,
                           role_names=role_names)
    ops: list[AssignOperation] = [CreateGroup(name=g["displayName"], role=role)
                                  for role, g in current.wanted if is_planned(g)]
    # a configured group a natoma-entra upsert made (its uniqueName) that this app does not record yet: an earlier run
    # stopped between the create and the record, or another run made it at the same moment
    recorded = group_ids(app.application)
    unrecorded = [g for _, g in current.wanted if not is_planned(g) and has_our_unique_name(g)
                  and str(g["id"]).lower() not in recorded]
    if ops or unrecorded:
        ops.append(RecordGroups(application_id=(app.application or {}).get("id") or "",
                                ids=[g["id"] for g in unrecorded],
                                why="records the groups natoma-entra made (teardown --delete-groups deletes only those)"))
    for g in unrecorded:
        d.changes.append(Change(action="update", target=f"app registration: record group {g['displayName']}",
                                detail={"groupId": g["id"], "why": "made by natoma-entra (its uniqueName), not recorded "
                                                                   "on the app yet"}))
    names = {g["id"]: g["displayName"] for _, g in current.wanted}
    for body in d.creates:
        pid = body["principalId"]
        principal: ExistingPrincipal | NewGroup = (NewGroup(name=names[pid]) if is_planned(pid)
                                                   else ExistingPrincipal(id=pid))
        ops.append(CreateAssignment(sp_id=app.sp_id, principal=principal, app_role_id=body["appRoleId"]))
    ops += [DeleteAssignment(sp_id=app.sp_id, assignment_id=a["id"]) for a in d.deletes]
    plan_: Plan[AssignOperation] = Plan(step=NAME, changes=d.changes, operations=ops, warnings=d.warnings, info=info,
                                        state=DRIFTED if d.foreign and not d.creates and not d.deletes else None,
                                        facts=facts)
    if missing and not facts.app_planned:
        plan_.needs = f"the app has no enabled role {', '.join(missing)} on its service principal"
        plan_.needs_fix, plan_.needs_input = "run `natoma-entra roles` (or `natoma-entra setup`) first", False
    return plan_


async def apply(context: ApplyContext, plan: Plan[AssignOperation]) -> Applied:
    session = context.session
    graph = session.graph
    created: dict[str, str] = {}  # the name of a group this run creates -> the id Graph gave it
    warnings: list[str] = []
    try:
        for op in plan.operations:  # groups first: they are assigned
            if not isinstance(op, CreateGroup):
                continue
            group = await _upsert_group(session, op)
            created[op.name] = group["id"]
            session.progress(f"created group {op.name!r}; it is assigned once Graph shows it")
        record = next((op for op in plan.operations if isinstance(op, RecordGroups)), None)
        if record is not None:
            warnings += await record_or_warn(session, await session.app(), "the groups natoma-entra made",
                                             add=[group_tag(i) for i in [*record.ids, *created.values()]])
        # the assignments do not depend on each other: they go out together (one round trip, not one each)
        creates = [op for op in plan.operations if isinstance(op, CreateAssignment)]
        results = await asyncio.gather(*(_create(session, op.path, op.body_for(
            op.principal.id if isinstance(op.principal, ExistingPrincipal) else created[op.principal.name]))
            for op in creates), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        for op in plan.operations:
            if not isinstance(op, DeleteAssignment):
                continue
            try:
                await graph.delete(op.path)
            except GraphError as e:
                if e.status != 404:  # already gone: that is what we wanted
                    raise
    except GraphError as e:
        session.forget("assignments", "groups:True", "groups:False")
        return Applied([failed(NAME, e, plan.changes, "changing the app's assignments")], context.facts)
    session.forget("assignments", *(("groups:True", "groups:False") if created else ()))
    result = plan.result("changed")
    result.warnings.extend(warnings)
    return Applied([result], context.facts)


async def _upsert_group(session: "Session", op: CreateGroup) -> JSON:
    """The group for op.name, by its uniqueName: found if an earlier or concurrent run made it (GET by alternate key),
    else created by the upsert (group-upsert.md: 201 with the group; 204 when a group holds the uniqueName by now).
    A PATCH may be sent again after a lost answer: a second upsert of one key makes no second group. Another answer
    for a held uniqueName (400/409, `group-upsert-conflict`) counts as "made by another run" too. The group made by
    another run may not be readable yet: its GET waits replication out (bounded, said)."""
    graph = session.graph
    try:
        return await graph.get(op.path)  # an interrupted or concurrent run got there first
    except GraphError as e:
        if e.status != 404:
            raise
    try:
        group = await graph.patch(op.path, op.body, headers={"Prefer": "create-if-missing"},
                                  policy=Policy(what=f"creating group {op.name!r}"))
    except GraphError as e:
        if not (_already_exists(e) or (e.status in (400, 409) and "same value" in (e.message or "").lower())):
            raise
        group = None
    if isinstance(group, dict) and group.get("id"):
        return group
    found: JSON = await graph.get(op.path, policy=AFTER_CREATE.but(what=f"reading group {op.name!r}, made by "
                                                                        "another run at the same moment"))
    if not found.get("id"):
        raise GraphError(status=502, code="UnconfirmedWrite", method="PATCH", path=op.path,
                         message="Graph answered the group's upsert and its read without the group",
                         fix="run the command again: it finds the group if it was created")
    return found


async def _create(session: "Session", base: str, body: dict) -> None:
    """POST one assignment. Graph waits out (graph/retry.py): throttling, the group this run just created still
    replicating (403/404/409), and the role still being copied to the service principal (ROLE_NOT_ON_SP). After an
    answer that may hide it (503/504, a lost answer) the assignments are read before the POST goes again. "Already
    exists" counts as done once a re-read shows it (another run, or our own earlier POST); a 2xx whose answer is
    not the created assignment counts only when a re-read finds it."""
    async def found() -> JSON | None:
        current = await _list_assigned(session, body["resourceId"])
        return next((a for a in current if a.get("principalId") == body["principalId"]
                     and a.get("appRoleId") == body["appRoleId"]), None)

    async def present() -> bool:
        return await found() is not None

    # applied: a single read is enough, as Graph refuses a second identical assignment ("already exists", below)
    policy = Policy(what="assigning the group its Natoma role", applied=found, replicating=True,
                    lags=(ROLE_NOT_ON_SP,))
    try:
        created = await session.graph.post(base, body, policy=policy)
    except GraphError as e:
        # the assignment list may show a new assignment late: look until it does (bounded)
        if _already_exists(e) and await wait_until(session, present):
            return
        raise
    if isinstance(created, dict) and created.get("id") and created.get("appRoleId") == body["appRoleId"]:
        return
    if await present():  # the answer did not show the assignment: believe only a re-read
        return
    raise GraphError(status=502, code="UnconfirmedWrite", method="POST", path=base,
                     message="Graph answered the assignment's POST without the assignment, and a re-read does not "
                             "find it",
                     fix="check --graph-endpoint or a proxy between you and Graph, then run the command again")


STEP = AssignStep()
