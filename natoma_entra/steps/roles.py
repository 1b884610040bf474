"""Step 1: the app registration has one enabled app role per Natoma role (guide step 1).

Graph facts (Microsoft Graph docs resources/approle.md, api/application-update.md):
- PATCH appRoles replaces the whole collection: every role we do not own goes back exactly as read.
- An enabled role cannot be changed or removed: disable it in one PATCH, change or remove it in the next
  (otherwise 400 CannotDeleteOrUpdateEnabledEntitlement). Right after the disable, Graph may still hold the role
  enabled and answer that 400 to the next PATCH: it is retried, bounded (Terraform's azuread provider does the same:
  internal/services/applications/applications.go, applicationUpdateRetryFunc).
- `origin` is read-only and must not be sent.
- Roles are copied to the service principal with a lag; assignments need them there (approleassignment.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from typing import TYPE_CHECKING, Literal, Union

from ..graph.errors import GraphError
from ..graph.lookups import App
from ..graph.odata import seg
from ..graph.retry import DISABLE_LAG, Policy
from ..json_copy import copy_json
from ..natoma_roles import NATOMA_ROLES, ROLE_VALUES, role_id
from ..results import Change
from .base import JSON, Applied, ApplyContext, Desired, Facts, Operation, Options, Plan, Step
from .common import failed, wait_until

if TYPE_CHECKING:
    from ..session import Session

NAME = "roles"
MEMBER_TYPES = ["User"]  # the portal's "Users/Groups" (approle.md: users and groups by setting ["User"])
# Template default roles (msiam_access, User): never pruned.
TEMPLATE_ROLE_IDS = {"b9632174-c057-4f7e-951b-be3adc52bfe6", "18d14569-c3bd-439b-9a66-3a2aee01d14f"}


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
        role = {**sendable(existing), **{k: role[k] for k in ("description", "displayName", "isEnabled", "value")},
                "allowedMemberTypes": sorted(set(existing.get("allowedMemberTypes") or []) | set(MEMBER_TYPES))}
    return role


def is_template_role(role: dict) -> bool:
    """The non-gallery template's default roles (msiam_access, User): never pruned, whatever their id."""
    return role.get("id") in TEMPLATE_ROLE_IDS or (
        role.get("value") is None and role.get("displayName") in ("msiam_access", "User"))


def sendable(role: dict) -> dict:
    return {k: copy_json(v) for k, v in role.items() if k != "origin"}


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
class RolePatches:
    changes: list[Change]
    patches: list[list[dict]] = field(default_factory=list)  # each a whole appRoles collection, in order
    warnings: list[str] = field(default_factory=list)
    final: list[dict] = field(default_factory=list)


def role_patches(current: list[dict], app_id: str, *, prune: bool = False) -> RolePatches:
    """Pure: the PATCH bodies that bring `current` to the three Natoma roles, keeping everything else."""
    changes: list[Change] = []
    warnings: list[str] = []
    disable_first: set[str] = set()  # ids of enabled roles that must be disabled in a first PATCH
    final = [sendable(r) for r in current]
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
    if prune:  # enabled roles only (docs/roles.md): a disabled one grants nothing, and may be kept on purpose
        keep = []
        for r in final:
            if r["id"] in ours or is_template_role(r) or not r.get("isEnabled"):
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
            r = sendable(r)
            if r["id"] in disable_first:
                r["isEnabled"] = False
            first.append(r)
        patches.append(first)
    if any(c.action != "none" for c in changes):
        patches.append(final)
    return RolePatches(changes=changes, patches=patches, warnings=warnings, final=final)


def roles_path(app: App) -> str:
    # A non-gallery app's roles are defined on its application object; the service principal shows a copy
    # (approle.md). plan() refuses to write when the application object cannot be read.
    return f"/applications/{seg((app.application or {}).get('id') or '')}"


def current_roles(app: App) -> list[dict]:
    holder = app.application if app.application is not None else app.service_principal
    return list(holder.get("appRoles") or [])


def sp_shows(sp_roles: list[dict], wanted: list[dict]) -> bool:
    seen = {(r.get("id"), r.get("value"), bool(r.get("isEnabled"))) for r in sp_roles}
    return all((r["id"], r.get("value"), bool(r.get("isEnabled"))) in seen for r in wanted)


def natoma_roles_of(final: list[dict]) -> list[dict]:
    return [r for r in final if r.get("value") in ROLE_VALUES and r.get("isEnabled")]


# -- the step ---------------------------------------------------------------------------------------------------------

class PatchAppRoles(Operation):
    """PATCH the application's whole appRoles collection (application-update.md: the collection is replaced)."""

    kind: Literal["patch-app-roles"] = "patch-app-roles"
    application_id: str
    app_roles: list[JSON]
    removes: bool = False  # a role left out of the collection is removed (--prune, teardown)

    @property
    def method(self) -> str:
        return "PATCH"

    @property
    def path(self) -> str:
        return f"/applications/{seg(self.application_id)}"

    @property
    def body(self) -> JSON:
        return {"appRoles": self.app_roles}

    @property
    def asks(self) -> bool:
        return self.removes


class WaitForRoles(Operation):
    """Wait until the service principal shows the roles (approleassignment.md: an assignment needs them there)."""

    kind: Literal["wait-for-service-principal"] = "wait-for-service-principal"
    sp_id: str
    wanted: list[JSON]

    @property
    def method(self) -> str:
        return "GET"

    @property
    def path(self) -> str:
        return f"/servicePrincipals/{seg(self.sp_id)}"


RoleOperation = Union[PatchAppRoles, WaitForRoles]


@dataclass
class Current:
    app: App
    roles: list[dict]  # where the roles are defined (the application, else the service principal)
    sp_roles: list[dict]  # what the service principal shows
    assignments: list[dict] | None = None  # read only with --prune (who would lose a pruned role)


class RolesStep(Step[Current, RoleOperation, Options]):
    name = NAME
    reading = "reading the app roles"

    async def read(self, session: "Session", desired: Desired[Options]) -> Current:
        app = await session.app()
        assignments = None
        if desired.options.prune and not app.planned:
            from .assignments import read_assignments

            assignments = await read_assignments(session)
        return Current(app=app, roles=current_roles(app), sp_roles=list(app.service_principal.get("appRoles") or []),
                       assignments=assignments)

    def plan(self, current: Current, desired: Desired[Options], facts: Facts) -> Plan[RoleOperation]:
        return plan(current, desired, facts)

    async def apply(self, context: ApplyContext, plan: Plan[RoleOperation]) -> Applied:
        return await apply(context, plan)


def plan(current: Current, desired: Desired[Options], facts: Facts) -> Plan[RoleOperation]:
    """Pure: the PATCHes that bring the roles to the three Natoma roles, and the role ids later steps assign."""
    app = current.app
    d = role_patches(current.roles, app.app_id, prune=desired.options.prune)
    warnings = list(d.warnings)
    pruned = {c.detail["id"] for c in d.changes if c.action == "delete"}
    for a in current.assignments or []:  # removing a role still assigned takes access away from its holders
        if a.get("appRoleId") in pruned:
            warnings.append(f"--prune removes a role still assigned to {a.get('principalDisplayName')!r} "
                            f"({a.get('principalType')}); it loses that access to the app")
    if d.patches and app.application is None:
        # The roles of a non-gallery app belong on its application object (approle.md); the service principal only
        # shows them. Not finding it means no permission to read it (or OwnedBy on an app the caller does not own),
        # or an app registered in another tenant: never write the roles to the service principal instead.
        return Plan(step=NAME, changes=d.changes, warnings=warnings, facts=facts,
                    error=f"the app registration (application object) of appId {app.app_id} cannot be read, so its "
                          "roles cannot be changed",
                    fix="grant Application.ReadWrite.All, or with Application.ReadWrite.OwnedBy make the signing-in "
                        "identity an owner of the app registration; an app registered in another tenant cannot be "
                        "used: create Natoma as a non-gallery app in this tenant")
    ops: list[RoleOperation] = []
    removes = any(c.action == "delete" for c in d.changes)
    for i, roles_ in enumerate(d.patches):
        why = "disable first (an enabled role cannot be changed)" if i == 0 and len(d.patches) > 1 else ""
        ops.append(PatchAppRoles(application_id=app.application["id"] if app.application else "", app_roles=roles_,
                                 why=why, removes=removes and i == len(d.patches) - 1))
    wanted = natoma_roles_of(d.final)
    if not ops and not app.planned and not sp_shows(current.sp_roles, wanted):  # an earlier run's roles replicate
        ops.append(WaitForRoles(sp_id=app.sp_id, wanted=wanted, why="the roles are still replicating"))
    return Plan(step=NAME, changes=d.changes, operations=ops, warnings=warnings,
                facts=facts.but(role_ids={r["value"]: r["id"] for r in wanted}))


async def apply(context: ApplyContext, plan: Plan[RoleOperation]) -> Applied:
    session = context.session
    app = await session.app()
    patches = [op for op in plan.operations if isinstance(op, PatchAppRoles)]
    try:
        for i, op in enumerate(patches):
            # the PATCH after the one that disabled a role: Graph may still hold the role enabled for a while and
            # refuse the change (400 CannotDeleteOrUpdateEnabledEntitlement); waited out, bounded (graph/retry.py)
            after_disable = Policy(what="changing the app roles after disabling them", lags=(DISABLE_LAG,))
            await session.graph.patch(op.path, op.body, policy=after_disable if i > 0 else None)
    except GraphError as e:
        return Applied([failed(NAME, e, plan.changes, "updating the app roles")], context.facts)
    if patches:
        final = patches[-1].app_roles
        holder = app.application if app.application is not None else app.service_principal
        holder["appRoles"] = final
        wanted = natoma_roles_of(final)
    else:
        wanted = next(op.wanted for op in plan.operations if isinstance(op, WaitForRoles))
    result = plan.result("changed" if plan.pending else "unchanged")
    session.progress("waiting for the service principal to show the roles...")
    if not await _wait_for_sp(session, app, wanted):
        result.warnings.append("the service principal does not show the new roles yet (Graph replication); "
                               "run the command again in a minute")
    return Applied([result], context.facts)


async def _wait_for_sp(session: "Session", app: App, wanted: list[dict]) -> bool:
    if sp_shows(app.service_principal.get("appRoles") or [], wanted):
        return True

    async def check() -> bool:
        sp = await session.graph.get(f"/servicePrincipals/{seg(app.sp_id)}", {"$select": "id,appRoles"})
        app.service_principal["appRoles"] = sp.get("appRoles") or []
        return sp_shows(app.service_principal["appRoles"], wanted)

    return await wait_until(session, check)


STEP = RolesStep()
