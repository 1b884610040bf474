"""`natoma-entra teardown`: undo what setup made, in reverse order, as steps (read -> plan -> apply) that the runner
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


from .graph.errors import GraphError
from .graph.lookups import AppNotFound, GroupNotFound, find_group
from .graph.odata import seg
from .natoma_roles import ROLE_VALUES
from .results import Change, Report, StepResult
from .steps import app as app_step
from .steps import groups as group_marks
from .steps.assignments import read_assignments
from .steps.base import Desired, Facts, Operation, Plan
from .steps.common import failed
from .steps.job import SCIM_TEMPLATE, job_path, read_job
from .steps.roles import _sendable, current_roles, role_id, roles_path


async def configured_groups(session) -> list[dict]:
    """The configured groups that exist (a missing one has nothing to undo); an ambiguous name is still an error."""
    async def read():
        out = []
        for _role, ref in session.config.group_pairs():
            try:
                out.append(await find_group(session.graph, ref))
            except GroupNotFound:
                continue
        return out

    return await session.cached("teardown-groups", read)


def _ours(app) -> dict[str, str]:
    """Our role ids on this app -> role value."""
    return {role_id(app.app_id, v): v for v in ROLE_VALUES}


def _split(assignments: list[dict], app, group_ids: set[str]) -> tuple[list[dict], list[dict]]:
    """(assignments of our roles to configured groups: ours to remove, grants of our roles to anyone else: kept)."""
    ours = _ours(app)
    mine = [a for a in assignments if a.get("appRoleId") in ours and a.get("principalId") in group_ids]
    others = [a for a in assignments if a.get("appRoleId") in ours and a.get("principalId") not in group_ids]
    return mine, others


class _Step:
    NAME = ""

    def result_of(self, plan: Plan) -> StepResult:
        return plan.result("changed" if plan.pending else "unchanged")


class JobStep(_Step):
    NAME = "job"

    async def read(self, session):
        return await session.app(), await read_job(session)

    def plan(self, current, desired: Desired, facts: Facts) -> Plan:
        app, job = current
        if job is None:
            return Plan(step=self.NAME, info={"note": "no provisioning job"})
        if (job.get("templateId") or "").lower() != SCIM_TEMPLATE:
            return Plan(step=self.NAME, warnings=[f"the job {job['id']} is from the {job.get('templateId')!r} "
                                                  "template, not one setup makes: left alone"])
        return Plan(step=self.NAME, changes=[Change(action="delete", target=f"provisioning job {job['id']}",
                                                    detail={"why": "stops it and deletes its mapping"})],
                    operations=[Operation(kind="delete-job", method="DELETE", path=job_path(app.sp_id, job["id"]))])

    async def apply(self, session, plan: Plan, facts: Facts):
        return await _run_deletes(session, self.NAME, plan, "deleting the provisioning job"), {}


class AssignmentsStep(_Step):
    NAME = "assign"

    async def read(self, session):
        app = await session.app()
        assignments, groups = await session.graph.gather(read_assignments(session), configured_groups(session))
        return app, assignments, groups

    def plan(self, current, desired: Desired, facts: Facts) -> Plan:
        app, assignments, groups = current
        mine, others = _split(assignments, app, {g["id"] for g in groups})
        ours = _ours(app)
        base = f"/servicePrincipals/{seg(app.sp_id)}/appRoleAssignedTo"
        changes = [Change(action="delete", target=f"{a.get('principalDisplayName') or a['principalId']} -> "
                                                  f"{ours[a['appRoleId']]}", detail={"assignmentId": a["id"]})
                   for a in mine]
        warnings = [f"{a.get('principalDisplayName') or a['principalId']} ({a.get('principalType')}) holds the "
                    f"{ours[a['appRoleId']]} role but is not a configured group: its grant is left alone"
                    for a in others]
        return Plan(step=self.NAME, changes=changes, warnings=warnings,
                    operations=[Operation(kind="delete-assignment", method="DELETE", path=f"{base}/{seg(a['id'])}")
                                for a in mine])

    async def apply(self, session, plan: Plan, facts: Facts):
        result = await _run_deletes(session, self.NAME, plan, "removing the assignments")
        session.forget("assignments")
        return result, {}


class RolesStep(_Step):
    NAME = "roles"

    async def read(self, session):
        app = await session.app()
        assignments, groups = await session.graph.gather(read_assignments(session), configured_groups(session))
        return app, current_roles(app), assignments, groups

    def plan(self, current, desired: Desired, facts: Facts) -> Plan:
        app, roles, assignments, groups = current
        ours = _ours(app)
        _mine, others = _split(assignments, app, {g["id"] for g in groups})
        held = {a["appRoleId"] for a in others}
        remove = [r for r in roles if r.get("id") in ours and r["id"] not in held]
        warnings = [f"role {r.get('displayName')} ({r.get('value')}) is kept: principals that are not configured "
                    "hold it" for r in roles if r.get("id") in held]
        made_by_hand = [r for r in roles if r.get("value") in ROLE_VALUES and r.get("id") not in ours]
        warnings += [f"role {r.get('displayName')} ({r.get('value')}) was not made by natoma-entra (another id): "
                     "left alone" for r in made_by_hand]
        if not remove:
            return Plan(step=self.NAME, warnings=warnings)
        gone = {r["id"] for r in remove}
        ops = []
        enabled = [r for r in remove if r.get("isEnabled")]
        if enabled:  # approle.md: a role must be disabled in one call before a later call removes it
            first = [dict(_sendable(r), isEnabled=False) if r["id"] in gone else _sendable(r) for r in roles]
            ops.append(Operation(kind="patch-app-roles", method="PATCH", path=roles_path(app),
                                 body={"appRoles": first}, why="disable first (an enabled role cannot be removed)"))
        ops.append(Operation(kind="patch-app-roles", method="PATCH", path=roles_path(app),
                             body={"appRoles": [_sendable(r) for r in roles if r["id"] not in gone]}))
        changes = [Change(action="delete", target=f"role {r.get('displayName')} ({r.get('value')})",
                          detail={"id": r["id"], "why": "disabled, then removed" if r.get("isEnabled") else "removed"})
                   for r in remove]
        return Plan(step=self.NAME, changes=changes, operations=ops, warnings=warnings)

    async def apply(self, session, plan: Plan, facts: Facts):
        try:
            for op in plan.operations:
                await session.graph.patch(op.path, op.body)
        except GraphError as e:
            return failed(self.NAME, e, plan.changes, "removing the roles"), {}
        return self.result_of(plan), {}


class GroupsStep(_Step):
    NAME = "groups"

    async def read(self, session):
        return await configured_groups(session)

    def plan(self, current, desired: Desired, facts: Facts) -> Plan:
        mine = [g for g in current if group_marks.made_by_us(g)]
        kept = [g["displayName"] for g in current if not group_marks.made_by_us(g)]
        info = {"kept": f"not created by natoma-entra: {', '.join(kept)}"} if kept else {}
        return Plan(step=self.NAME, info=info,
                    changes=[Change(action="delete", target=f"group {g['displayName']}", detail={"id": g["id"]})
                             for g in mine],
                    operations=[Operation(kind="delete-group", method="DELETE", path=f"/groups/{seg(g['id'])}")
                                for g in mine])

    async def apply(self, session, plan: Plan, facts: Facts):
        return await _run_deletes(session, self.NAME, plan, "deleting the groups"), {}


class AppStep(_Step):
    NAME = "app"

    async def read(self, session):
        return await session.app()

    def plan(self, current, desired: Desired, facts: Facts) -> Plan:
        app = current
        if not app_step.made_by_us(app):
            return Plan(step=self.NAME, warnings=[f"the app {app.display_name!r} was not created by `natoma-entra app "
                                                  "create`: --delete-app leaves it alone"])
        return Plan(step=self.NAME,
                    changes=[Change(action="delete", target=f"app {app.display_name}", detail={"appId": app.app_id})],
                    operations=[Operation(kind="delete-sp", method="DELETE", path=f"/servicePrincipals/{seg(app.sp_id)}"),
                                Operation(kind="delete-app", method="DELETE",
                                          path=f"/applications/{seg(app.application['id'])}")])

    async def apply(self, session, plan: Plan, facts: Facts):
        return await _run_deletes(session, self.NAME, plan, "deleting the app"), {}


async def _run_deletes(session, name: str, plan: Plan, what: str) -> StepResult:
    try:
        for op in plan.operations:
            try:
                await session.graph.delete(op.path)
            except GraphError as e:
                if e.status != 404:  # already gone (an earlier, interrupted run): what we wanted
                    raise
    except GraphError as e:
        return failed(name, e, plan.changes, what)
    return plan.result("changed" if plan.pending else "unchanged")


def steps_for(options) -> list:
    steps = [JobStep(), AssignmentsStep(), RolesStep()]
    if options.delete_groups:
        steps.append(GroupsStep())
    if options.delete_app:
        steps.append(AppStep())
    return steps


async def run(session, desired: Desired, *, dry_run: bool, on_step) -> Report:
    """The teardown steps. No app (never made, or deleted by an earlier run): only the groups are left to undo."""
    from . import runner

    try:
        await session.app()
    except AppNotFound as e:
        report = Report(command="teardown", dry_run=dry_run)
        report.add(StepResult(step="app", status="unchanged", info={"note": f"{e.message} Nothing on it to undo."}))
        if desired.options.delete_groups:
            step = GroupsStep()
            plan = step.plan(await step.read(session), desired, Facts())
            if dry_run or not plan.operations:
                report.add(runner.planned_result(plan) if dry_run else plan.result("unchanged"))
            else:
                on_step(step.NAME)
                report.add((await step.apply(session, plan, Facts()))[0])
        return report
    return await runner.run(session, "teardown", steps_for(desired.options), desired, dry_run=dry_run, on_step=on_step)
