"""`natoma-entra teardown`: undo what setup made, in reverse order, as steps (read -> plan -> apply) that the executor
plans before anything is written.

What counts as made by natoma-entra (nothing else is ever touched):
- the provisioning job from the 'scim' template: the one setup creates or adopts (deleting it deletes its mapping;
  synchronization-synchronizationjob-delete.md: "stops the job and deletes its state");
- the Natoma roles whose id is the one setup gives them (steps/roles.py `role_id`, derived from the appId): roles
  made by hand (another id) stay;
- assignments of those roles to the configured groups; a grant of them to anyone else stays, and so does the role it
  holds (removing the role would take that access away);
- with --delete-groups: configured groups whose description carries the mark `--create-groups` writes;
- with --delete-app: the app, when its application's notes carry the mark `app create` writes.
Run again after an interruption, each step reads what is left and plans only that.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Union

from .graph.errors import GraphError
from .graph.lookups import App, AppNotFound, GroupNotFound, find_group
from .graph.odata import seg
from .natoma_roles import ROLE_VALUES
from .results import Change, StepResult
from .steps import app as app_step
from .steps import groups as group_marks
from .steps.assignments import DeleteAssignment, read_assignments
from .steps.base import AnyStep, Applied, ApplyContext, Desired, Facts, Operation, Options, Plan, Step
from .steps.common import failed
from .steps.job import SCIM_TEMPLATE, job_path, read_job
from .steps.roles import PatchAppRoles, current_roles, role_id, sendable

if TYPE_CHECKING:
    from .session import Session


async def configured_groups(session: "Session") -> list[dict]:
    """The configured groups that exist (a missing one has nothing to undo); an ambiguous name is still an error."""
    async def read() -> list[dict]:
        out = []
        for _role, ref in session.config.group_pairs():
            try:
                out.append(await find_group(session.graph, ref))
            except GroupNotFound:
                continue
        return out

    return await session.cached("teardown-groups", read)


async def app_or_none(session: "Session") -> tuple[App | None, str | None]:
    """The app, or (None, why) when there is none (never made, or deleted by an earlier run): nothing on it to undo."""
    try:
        return await session.app(), None
    except AppNotFound as e:
        return None, f"{e.message} Nothing on it to undo."


def _ours(app: App) -> dict[str, str]:
    """Our role ids on this app -> role value."""
    return {role_id(app.app_id, v): v for v in ROLE_VALUES}


def _split(assignments: list[dict], app: App, group_ids: set[str]) -> tuple[list[dict], list[dict]]:
    """(assignments of our roles to configured groups: ours to remove, grants of our roles to anyone else: kept)."""
    ours = _ours(app)
    mine = [a for a in assignments if a.get("appRoleId") in ours and a.get("principalId") in group_ids]
    others = [a for a in assignments if a.get("appRoleId") in ours and a.get("principalId") not in group_ids]
    return mine, others


# -- operations of their own (deleting an assignment or changing the roles reuses the setup steps' operations) -------

class DeleteJob(Operation):
    """DELETE .../jobs/{id}: stops the job and deletes its state and schema (synchronization-synchronizationjob-delete.md)."""

    kind: Literal["delete-job"] = "delete-job"
    sp_id: str
    job_id: str

    @property
    def method(self) -> str:
        return "DELETE"

    @property
    def path(self) -> str:
        return job_path(self.sp_id, self.job_id)


class DeleteGroup(Operation):
    kind: Literal["delete-group"] = "delete-group"
    group_id: str

    @property
    def method(self) -> str:
        return "DELETE"

    @property
    def path(self) -> str:
        return f"/groups/{seg(self.group_id)}"


class DeleteServicePrincipal(Operation):
    kind: Literal["delete-service-principal"] = "delete-service-principal"
    sp_id: str

    @property
    def method(self) -> str:
        return "DELETE"

    @property
    def path(self) -> str:
        return f"/servicePrincipals/{seg(self.sp_id)}"


class DeleteApplication(Operation):
    kind: Literal["delete-application"] = "delete-application"
    application_id: str

    @property
    def method(self) -> str:
        return "DELETE"

    @property
    def path(self) -> str:
        return f"/applications/{seg(self.application_id)}"


DeleteOperation = Union[DeleteJob, DeleteAssignment, DeleteGroup, DeleteServicePrincipal, DeleteApplication]


@dataclass
class Found:
    """What a teardown step read: the app (None: there is none, `missing` says so) and the step's own objects."""

    app: App | None
    missing: str | None = None
    job: dict | None = None
    assignments: list[dict] = field(default_factory=list)
    groups: list[dict] = field(default_factory=list)
    roles: list[dict] = field(default_factory=list)


async def _run(session: "Session", name: str, plan: Plan[Any], what: str) -> StepResult:
    """Each operation in order; a 404 is what we wanted (an earlier, interrupted run got there first)."""
    try:
        for op in plan.operations:
            try:
                if op.method == "DELETE":
                    await session.graph.delete(op.path)
                else:
                    await session.graph.patch(op.path, op.body)
            except GraphError as e:
                if e.status != 404 or op.method != "DELETE":
                    raise
    except GraphError as e:
        return failed(name, e, plan.changes, what)
    return plan.result("changed" if plan.pending else "unchanged")


def _nothing(name: str, found: Found, facts: Facts) -> Plan[Any]:
    return Plan(step=name, info={"note": found.missing} if found.missing else {}, facts=facts)


class JobStep(Step[Found, DeleteJob, Options]):
    name = "job"
    reading = "reading the provisioning job"
    needs_app = False

    async def read(self, session: "Session", desired: Desired[Options]) -> Found:
        app, missing = await app_or_none(session)
        return Found(app=app, missing=missing, job=await read_job(session) if app else None)

    def plan(self, current: Found, desired: Desired[Options], facts: Facts) -> Plan[DeleteJob]:
        app, job = current.app, current.job
        if app is None:
            return _nothing(self.name, current, facts)
        if job is None:
            return Plan(step=self.name, info={"note": "no provisioning job"}, facts=facts)
        if (job.get("templateId") or "").lower() != SCIM_TEMPLATE:
            return Plan(step=self.name, facts=facts,
                        warnings=[f"the job {job['id']} is from the {job.get('templateId')!r} template, not one setup "
                                  "makes: left alone"])
        return Plan(step=self.name, facts=facts,
                    changes=[Change(action="delete", target=f"provisioning job {job['id']}",
                                    detail={"why": "stops it and deletes its mapping"})],
                    operations=[DeleteJob(sp_id=app.sp_id, job_id=job["id"])])

    async def apply(self, context: ApplyContext, plan: Plan[DeleteJob]) -> Applied:
        return Applied([await _run(context.session, self.name, plan, "deleting the provisioning job")], context.facts)


class AssignmentsStep(Step[Found, DeleteAssignment, Options]):
    name = "assign"
    reading = "reading the app's assignments"
    needs_app = False

    async def read(self, session: "Session", desired: Desired[Options]) -> Found:
        app, missing = await app_or_none(session)
        if app is None:
            return Found(app=None, missing=missing)
        assignments, groups = await session.graph.gather(read_assignments(session), configured_groups(session))
        return Found(app=app, assignments=assignments, groups=groups)

    def plan(self, current: Found, desired: Desired[Options], facts: Facts) -> Plan[DeleteAssignment]:
        app = current.app
        if app is None:
            return Plan(step=self.name, facts=facts)
        mine, others = _split(current.assignments, app, {g["id"] for g in current.groups})
        ours = _ours(app)
        changes = [Change(action="delete", target=f"{a.get('principalDisplayName') or a['principalId']} -> "
                                                  f"{ours[a['appRoleId']]}", detail={"assignmentId": a["id"]})
                   for a in mine]
        warnings = [f"{a.get('principalDisplayName') or a['principalId']} ({a.get('principalType')}) holds the "
                    f"{ours[a['appRoleId']]} role but is not a configured group: its grant is left alone"
                    for a in others]
        return Plan(step=self.name, changes=changes, warnings=warnings, facts=facts,
                    operations=[DeleteAssignment(sp_id=app.sp_id, assignment_id=a["id"]) for a in mine])

    async def apply(self, context: ApplyContext, plan: Plan[DeleteAssignment]) -> Applied:
        result = await _run(context.session, self.name, plan, "removing the assignments")
        context.session.forget("assignments")
        return Applied([result], context.facts)


class RolesStep(Step[Found, PatchAppRoles, Options]):
    name = "roles"
    reading = "reading the app roles"
    needs_app = False

    async def read(self, session: "Session", desired: Desired[Options]) -> Found:
        app, missing = await app_or_none(session)
        if app is None:
            return Found(app=None, missing=missing)
        assignments, groups = await session.graph.gather(read_assignments(session), configured_groups(session))
        return Found(app=app, roles=current_roles(app), assignments=assignments, groups=groups)

    def plan(self, current: Found, desired: Desired[Options], facts: Facts) -> Plan[PatchAppRoles]:
        app, roles = current.app, current.roles
        if app is None:
            return Plan(step=self.name, facts=facts)
        ours = _ours(app)
        _mine, others = _split(current.assignments, app, {g["id"] for g in current.groups})
        held = {a["appRoleId"] for a in others}
        remove = [r for r in roles if r.get("id") in ours and r["id"] not in held]
        warnings = [f"role {r.get('displayName')} ({r.get('value')}) is kept: principals that are not configured "
                    "hold it" for r in roles if r.get("id") in held]
        made_by_hand = [r for r in roles if r.get("value") in ROLE_VALUES and r.get("id") not in ours]
        warnings += [f"role {r.get('displayName')} ({r.get('value')}) was not made by natoma-entra (another id): "
                     "left alone" for r in made_by_hand]
        if not remove:
            return Plan(step=self.name, warnings=warnings, facts=facts)
        gone = {r["id"] for r in remove}
        application_id = (app.application or {}).get("id") or ""
        ops: list[PatchAppRoles] = []
        if any(r.get("isEnabled") for r in remove):  # approle.md: disabled in one call before a later one removes it
            first = [dict(sendable(r), isEnabled=False) if r["id"] in gone else sendable(r) for r in roles]
            ops.append(PatchAppRoles(application_id=application_id, app_roles=first,
                                     why="disable first (an enabled role cannot be removed)"))
        ops.append(PatchAppRoles(application_id=application_id, removes=True,
                                 app_roles=[sendable(r) for r in roles if r["id"] not in gone]))
        changes = [Change(action="delete", target=f"role {r.get('displayName')} ({r.get('value')})",
                          detail={"id": r["id"], "why": "disabled, then removed" if r.get("isEnabled") else "removed"})
                   for r in remove]
        return Plan(step=self.name, changes=changes, operations=ops, warnings=warnings, facts=facts)

    async def apply(self, context: ApplyContext, plan: Plan[PatchAppRoles]) -> Applied:
        return Applied([await _run(context.session, self.name, plan, "removing the roles")], context.facts)


class GroupsStep(Step[Found, DeleteGroup, Options]):
    name = "groups"
    reading = "reading the configured groups"
    needs_app = False

    async def read(self, session: "Session", desired: Desired[Options]) -> Found:
        return Found(app=None, groups=await configured_groups(session))

    def plan(self, current: Found, desired: Desired[Options], facts: Facts) -> Plan[DeleteGroup]:
        mine = [g for g in current.groups if group_marks.made_by_us(g)]
        kept = [g["displayName"] for g in current.groups if not group_marks.made_by_us(g)]
        info = {"kept": f"not created by natoma-entra: {', '.join(kept)}"} if kept else {}
        return Plan(step=self.name, info=info, facts=facts,
                    changes=[Change(action="delete", target=f"group {g['displayName']}", detail={"id": g["id"]})
                             for g in mine],
                    operations=[DeleteGroup(group_id=g["id"]) for g in mine])

    async def apply(self, context: ApplyContext, plan: Plan[DeleteGroup]) -> Applied:
        return Applied([await _run(context.session, self.name, plan, "deleting the groups")], context.facts)


class AppStep(Step[Found, Union[DeleteServicePrincipal, DeleteApplication], Options]):
    name = "app"
    reading = "looking up the app"
    needs_app = False

    async def read(self, session: "Session", desired: Desired[Options]) -> Found:
        app, missing = await app_or_none(session)
        return Found(app=app, missing=missing)

    def plan(self, current: Found, desired: Desired[Options],
             facts: Facts) -> Plan[Union[DeleteServicePrincipal, DeleteApplication]]:
        app = current.app
        if app is None:
            return _nothing(self.name, current, facts)
        if not app_step.made_by_us(app):
            return Plan(step=self.name, facts=facts,
                        warnings=[f"the app {app.display_name!r} was not created by `natoma-entra app create`: "
                                  "--delete-app leaves it alone"])
        return Plan(step=self.name, facts=facts,
                    changes=[Change(action="delete", target=f"app {app.display_name}", detail={"appId": app.app_id})],
                    operations=[DeleteServicePrincipal(sp_id=app.sp_id),
                                DeleteApplication(application_id=(app.application or {}).get("id") or "")])

    async def apply(self, context: ApplyContext,
                    plan: Plan[Union[DeleteServicePrincipal, DeleteApplication]]) -> Applied:
        return Applied([await _run(context.session, self.name, plan, "deleting the app")], context.facts)


def steps_for(options: Options) -> list[AnyStep]:
    """In reverse of setup: the job (and its mapping), the assignments, the roles; then what was asked for by name.
    With no app, the first step says so and only the groups are left to undo."""
    steps: list[AnyStep] = [JobStep(), AssignmentsStep(), RolesStep()]
    if options.delete_groups:
        steps.append(GroupsStep())
    if options.delete_app:
        steps.append(AppStep())
    return steps
