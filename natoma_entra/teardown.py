"""`natoma-entra teardown`: undo what setup made, in reverse order, as steps (read -> plan -> apply) that the executor
plans before anything is written.

An object is deleted only when teardown can show natoma-entra made it for this configuration and nothing else depends
on it (docs/teardown.md, "What counts as made by natoma-entra, and what spoofing it requires"):
- the provisioning job recorded on the app registration (`natoma-entra:job:<jobId>`, natoma_entra/marks.py);
  deleting it deletes its mapping (synchronization-synchronizationjob-delete.md: "stops the job and deletes its
  state"). A job not recorded (made in the portal, adopted by setup or `export`) stays, and the plan says how to
  delete it by name;
- the saved SCIM credentials (Tenant URL and Secret Token emptied) once no job is left to use them and the app shows
  natoma-entra's hand; where Graph refuses to empty them the plan says the portal path;
- the Natoma roles whose id is the one setup gives them (natoma_roles.role_id, uuid5 of the appId and the value);
  roles made by hand (another id) stay, and so does a role someone who is not configured holds;
- assignments of those roles to the configured groups; a grant of them to anyone else stays;
- with --delete-groups: configured groups recorded on the app (`natoma-entra:group:<id>`) that carry the uniqueName
  --create-groups gives, when they have no members and no grant beyond ours;
- with --delete-app: the app, when recorded as made by `app create` (`natoma-entra:created`) and nothing but ours is
  on it (no other job, role or grant); found by that record even when its service principal is gone.
Anything else goes only when `--delete ID` names it; each deletion in the plan shows what goes with it (members,
other apps' grants). Run again after an interruption, each step reads what is left and plans only that.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Union

from . import marks
from .errors import UsageError
from .graph.errors import GraphError
from .graph.lookups import APP_FIELDS, App, AppNotFound, GroupIdNotFound, GroupNotFound, find_group
from .graph.odata import eq, is_guid, seg
from .natoma_roles import ROLE_VALUES, role_id
from .results import Change, StepResult
from .steps.assignments import DeleteAssignment, read_assignments
from .steps.base import AnyStep, Applied, ApplyContext, Desired, Facts, Operation, Options, Plan, Step
from .steps.common import failed
from .steps.credentials import MASKED, read_secrets, secrets_path
from .steps.groups import has_our_unique_name
from .steps.job import SCIM_TEMPLATE, job_path, jobs_path
from .steps.roles import PatchAppRoles, current_roles, is_template_role, sendable

if TYPE_CHECKING:
    from .session import Session

MEMBERS_SHOWN = 1000  # members counted for a group's blast radius ("1000 or more" past it)
PORTAL_CREDENTIALS = ("Microsoft Entra admin center -> Enterprise applications -> {app} -> Provisioning -> Admin "
                      "Credentials: empty Tenant URL and Secret Token, then Save")


# -- reads shared by the steps (each made once per run: session.cached) ---------------------------------------------

@dataclass
class Target:
    """The app teardown is about: found (its service principal and application), or only its application, left
    behind by an interrupted `teardown --delete-app` (`orphans`: applications recorded as natoma-entra's whose
    service principal is gone), or nothing (`missing` says why)."""

    app: App | None
    missing: str | None = None
    orphans: list[dict] = field(default_factory=list)

    @property
    def application(self) -> dict | None:
        """Where natoma-entra's record is read: the app's application, else the orphan's."""
        if self.app is not None:
            return self.app.application
        return self.orphans[0] if len(self.orphans) == 1 else None


async def target(session: "Session", options: "Options") -> Target:
    """The app, or what an earlier `teardown --delete-app` left of it. No app by that name and nothing left is bad
    input (a typo in --app: exit 2) unless --delete-app asked for it gone (deleted by an earlier run: a second run
    converges) or --delete names objects of its own (a group left after the app went)."""
    async def read() -> Target:
        try:
            return Target(app=await session.app())
        except AppNotFound as e:
            orphans = await _orphan_applications(session)
            if not orphans and not options.delete_app and not _named(options):
                raise AppNotFound(e.message, fix="pass --app with the exact display name, the appId or the object "
                                                 "id (when an earlier teardown --delete-app removed it, nothing is "
                                                 "left)")
            return Target(app=None, orphans=orphans,
                          missing=None if orphans else f"{e.message} Nothing on it to undo.")

    return await session.cached("teardown-target", read)


async def _orphan_applications(session: "Session") -> list[dict]:
    """Applications named by --app (display name, appId or object id) that natoma-entra recorded as made by
    `app create`, without a service principal: what a teardown stopped between its two deletes leaves."""
    ref = (session.config.app or "").strip()
    graph = session.graph
    if is_guid(ref):
        found = await graph.list("/applications", {"$filter": f"{eq('appId', ref)} or {eq('id', ref)}",
                                                   "$select": APP_FIELDS})
    else:
        found = await graph.list("/applications", {"$filter": eq("displayName", ref), "$select": APP_FIELDS})
    return [a for a in found if marks.created(a)]


async def configured_groups(session: "Session") -> list[dict]:
    """The configured groups that exist (a missing one has nothing to undo); an ambiguous name is still an error."""
    async def read() -> list[dict]:
        out = []
        for _role, ref in session.config.group_pairs():
            try:
                out.append(await find_group(session.graph, ref))
            except (GroupNotFound, GroupIdNotFound):  # deleted (by name or by id): nothing to undo
                continue
        return out

    return await session.cached("teardown-groups", read)


async def list_jobs(session: "Session", app: App) -> list[dict]:
    """Every provisioning job on the app (synchronization-synchronization-list-jobs.md), not only the SCIM one."""
    return await session.cached("teardown-jobs", lambda: session.graph.list(jobs_path(app.sp_id)))


@dataclass
class GroupFacts:
    """A configured group and what hangs on it: its members (up to MEMBERS_SHOWN) and its grants on every app."""

    group: dict
    members: list[dict]
    grants: list[dict]


async def group_facts(session: "Session", group: dict) -> GroupFacts:
    gid = seg(group["id"])
    members, grants = await session.graph.gather(
        session.graph.list(f"/groups/{gid}/members", {"$select": "id,displayName", "$top": "999"},
                           limit=MEMBERS_SHOWN),
        session.graph.list(f"/groups/{gid}/appRoleAssignments", {"$top": "999"}))
    return GroupFacts(group=group, members=members, grants=grants)


# -- what is ours (pure) ---------------------------------------------------------------------------------------------

def _ours(app: App) -> dict[str, str]:
    """Our role ids on this app -> role value."""
    return {role_id(app.app_id, v): v for v in ROLE_VALUES}


def _split(assignments: list[dict], app: App, group_ids: set[str]) -> tuple[list[dict], list[dict]]:
    """(assignments of our roles to configured groups: ours to remove, grants of our roles to anyone else: kept)."""
    ours = _ours(app)
    mine = [a for a in assignments if a.get("appRoleId") in ours and a.get("principalId") in group_ids]
    others = [a for a in assignments if a.get("appRoleId") in ours and a.get("principalId") not in group_ids]
    return mine, others


def _named(options: Options) -> set[str]:
    return {n.strip().casefold() for n in options.delete if n.strip()}


def _names_app(app: App | None, application: dict | None, named: set[str]) -> bool:
    keys = {(application or {}).get("id"), (application or {}).get("appId"), (application or {}).get("displayName")}
    if app is not None:
        keys |= {app.sp_id, app.app_id, app.display_name}
    return any(str(k).casefold() in named for k in keys if k)


def _names_group(group: dict, named: set[str]) -> bool:
    return str(group.get("id") or "").casefold() in named or str(group.get("displayName") or "").casefold() in named


def jobs_deleted(jobs: list[dict], application: dict | None, options: Options) -> list[dict]:
    """Pure: the jobs teardown deletes: recorded as natoma-entra's on the app, or named by --delete."""
    recorded, named = marks.job_ids(application), _named(options)
    return [j for j in jobs if j.get("id") in recorded or str(j.get("id") or "").casefold() in named]


def cleared_body(stored: dict[str, str]) -> tuple[dict, list[str]]:
    """Pure: the PUT that empties the saved Tenant URL and Secret Token, every other key that reads back in clear
    sent back as it is (PUT may replace the whole set: the `secrets-replace` variant), and the keys that read back
    masked and so cannot be sent back (as steps/credentials.py secrets_body does)."""
    items = [{"key": "BaseAddress", "value": ""}, {"key": "SecretToken", "value": ""}]
    dropped: list[str] = []
    for key, value in stored.items():
        if key in ("BaseAddress", "SecretToken"):
            continue
        if value == MASKED:
            dropped.append(key)
        else:
            items.append({"key": key, "value": value})
    return {"value": items}, dropped


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


class ForgetTags(Operation):
    """PATCH the app registration's tags: the record of objects teardown deleted goes, every other tag stays
    (natoma_entra/marks.py). A job made again on this app may get the same id (job ids name the template and the
    app), so a stale record could name a job natoma-entra did not make."""

    kind: Literal["forget-tags"] = "forget-tags"
    application_id: str
    tags: list[str]

    @property
    def method(self) -> str:
        return "PATCH"

    @property
    def path(self) -> str:
        return f"/applications/{seg(self.application_id)}"

    @property
    def body(self) -> Any:
        return {"tags": ["...", f"without {', '.join(self.tags)}"]}


class ClearSecrets(Operation):
    """PUT .../synchronization/secrets with BaseAddress and SecretToken empty, every other key that reads back in
    clear kept (synchronization-serviceprincipal-put-synchronization.md)."""

    kind: Literal["clear-secrets"] = "clear-secrets"
    sp_id: str
    items: list[dict[str, str]]
    app_name: str

    @property
    def method(self) -> str:
        return "PUT"

    @property
    def path(self) -> str:
        return secrets_path(self.sp_id)

    @property
    def body(self) -> Any:
        return {"value": [dict(it) for it in self.items]}

    @property
    def asks(self) -> bool:  # the saved credentials are removed
        return True


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


DeleteOperation = Union[DeleteJob, ForgetTags, ClearSecrets, DeleteAssignment, DeleteGroup, DeleteServicePrincipal,
                        DeleteApplication]


@dataclass
class Found:
    """What a teardown step read: the app (None: there is none, `missing` says so) and the step's own objects."""

    target: Target
    jobs: list[dict] = field(default_factory=list)
    assignments: list[dict] = field(default_factory=list)
    groups: list[GroupFacts] = field(default_factory=list)
    roles: list[dict] = field(default_factory=list)
    secrets: dict[str, str] | None = None  # None: they cannot be read back
    config_url: str | None = None

    @property
    def app(self) -> App | None:
        return self.target.app


async def _run(session: "Session", name: str, plan: Plan[Any], what: str) -> StepResult:
    """Each operation in order; a 404 to a DELETE is what we wanted (an earlier, interrupted run got there first)."""
    warnings: list[str] = []
    try:
        for op in plan.operations:
            try:
                if isinstance(op, ForgetTags):
                    await marks.record(session, op.application_id, remove=op.tags)
                elif isinstance(op, ClearSecrets):
                    await session.graph.put(op.path, op.body)
                elif op.method == "DELETE":
                    await session.graph.delete(op.path)
                else:
                    await session.graph.patch(op.path, op.body)
            except GraphError as e:
                if isinstance(op, ClearSecrets) and e.status == 400:
                    warnings.append(f"Graph refused to empty the saved SCIM credentials ({e.headline}): they are "
                                    "still saved; empty them in the portal: "
                                    + PORTAL_CREDENTIALS.format(app=op.app_name))
                    continue
                if e.status != 404 or op.method != "DELETE":
                    raise
    except GraphError as e:
        return failed(name, e, plan.changes, what)
    result = plan.result("changed" if plan.pending and not warnings else "unchanged")
    if warnings:
        result.changes = [c for c in result.changes if c.target != "saved SCIM credentials"]
    result.warnings.extend(warnings)
    return result


def _nothing(name: str, found: Found, facts: Facts) -> Plan[Any]:
    missing = found.target.missing
    return Plan(step=name, info={"note": missing} if missing else {}, facts=facts)


def _forget(application: dict | None, tags: list[str]) -> list[ForgetTags]:
    present = [t for t in tags if t in marks.tags_of(application)]
    application_id = (application or {}).get("id")
    if not present or not application_id:
        return []
    return [ForgetTags(application_id=application_id, tags=present, why="the record of what was deleted goes with it")]


class JobStep(Step[Found, Union[DeleteJob, ForgetTags], Options]):
    name = "job"
    reading = "reading the provisioning jobs"
    needs_app = False

    async def read(self, session: "Session", desired: Desired[Options]) -> Found:
        t = await target(session, desired.options)
        jobs = await list_jobs(session, t.app) if t.app else []
        if desired.options.delete:
            await _check_names(session, t, jobs, desired.options)
        return Found(target=t, jobs=jobs)

    def plan(self, current: Found, desired: Desired[Options], facts: Facts) -> Plan[Union[DeleteJob, ForgetTags]]:
        app, jobs, application = current.app, current.jobs, current.target.application
        if app is None:
            return _nothing(self.name, current, facts)
        gone = jobs_deleted(jobs, application, desired.options)
        recorded = marks.job_ids(application)
        changes, warnings = [], []
        for j in gone:
            why = "recorded as natoma-entra's" if j.get("id") in recorded else "named by --delete"
            changes.append(Change(action="delete", target=f"provisioning job {j['id']}",
                                  detail={"why": f"{why}: stops it and deletes its mapping"}))
        for j in jobs:
            if j in gone:
                continue
            template = j.get("templateId")
            if (template or "").lower() == SCIM_TEMPLATE:
                warnings.append(f"the provisioning job {j['id']} (template {template}) is not recorded as made by "
                                "natoma-entra (configured in the portal, or adopted by setup or export): it is left "
                                "alone, with its mapping and its saved credentials; if it should go, run "
                                f"`natoma-entra teardown --delete {j['id']}`")
            else:
                warnings.append(f"the job {j['id']} is from the {template!r} template, not one setup makes: left alone")
        stale = [marks.job_tag(i) for i in recorded if i not in {j.get("id") for j in jobs}]
        ops: list[Union[DeleteJob, ForgetTags]] = [DeleteJob(sp_id=app.sp_id, job_id=j["id"]) for j in gone]
        ops += _forget(application, [marks.job_tag(j["id"]) for j in gone] + stale)
        if stale and not gone:
            changes.append(Change(action="update", target="app registration: forget deleted jobs",
                                  detail={"why": "the jobs recorded there are gone"}))
        info = {} if jobs else {"note": "no provisioning job"}
        return Plan(step=self.name, changes=changes, operations=ops, warnings=warnings, info=info, facts=facts)

    async def apply(self, context: ApplyContext, plan: Plan[Union[DeleteJob, ForgetTags]]) -> Applied:
        return Applied([await _run(context.session, self.name, plan, "deleting the provisioning job")], context.facts)


async def _check_names(session: "Session", t: Target, jobs: list[dict], options: Options) -> None:
    """Every --delete names a job on the app, a configured group or the app itself (bad input otherwise: exit 2)."""
    groups = await configured_groups(session)
    for name in options.delete:
        key = {name.strip().casefold()}
        if (any(str(j.get("id") or "").casefold() in key for j in jobs) or any(_names_group(g, key) for g in groups)
                or _names_app(t.app, t.application, key)):
            continue
        raise UsageError(f"--delete {name!r} names no provisioning job of this app, no configured group and not the "
                         "app itself", fix="give a job id (`natoma-entra status`), a configured group's name or id, "
                                           "or the app's appId")


def _natoma_was_here(app: App, application: dict | None, stored: dict[str, str], config_url: str | None) -> bool:
    """Pure: the app shows natoma-entra's hand, so saved credentials no job uses are natoma-entra's to empty: a record
    of it on the app, one of our roles (their deterministic ids), or the configured SCIM URL saved."""
    recorded = any(t.startswith(marks.PREFIX) for t in marks.tags_of(application))
    roles = {r.get("id") for r in current_roles(app)} & set(_ours(app))
    return recorded or bool(roles) or (config_url is not None and stored.get("BaseAddress") == config_url)


class CredentialsStep(Step[Found, ClearSecrets, Options]):
    name = "credentials"
    reading = "reading the saved credentials"
    needs_app = False

    async def read(self, session: "Session", desired: Desired[Options]) -> Found:
        t = await target(session, desired.options)
        if t.app is None:
            return Found(target=t)
        jobs, secrets = await session.graph.gather(list_jobs(session, t.app), read_secrets(session))
        return Found(target=t, jobs=jobs, secrets=secrets.values if secrets.readable else None,
                     config_url=session.config.scim.url)

    def plan(self, current: Found, desired: Desired[Options], facts: Facts) -> Plan[ClearSecrets]:
        app, application = current.app, current.target.application
        if app is None:
            return _nothing(self.name, current, facts)
        gone = jobs_deleted(current.jobs, application, desired.options)
        left = [j for j in current.jobs if j not in gone]
        if left:
            return Plan(step=self.name, facts=facts,
                        info={"note": f"the saved credentials are kept: the job {left[0]['id']} left in place uses them"})
        if current.secrets is None and not gone:
            return Plan(step=self.name, facts=facts, warnings=[
                "the saved SCIM credentials cannot be read back, so teardown cannot tell whether any are left; if so, "
                "empty them in the portal: " + PORTAL_CREDENTIALS.format(app=app.display_name)])
        stored = current.secrets or {}
        if current.secrets is not None and not (stored.get("BaseAddress") or stored.get("SecretToken")):
            return Plan(step=self.name, facts=facts)  # nothing saved
        if not (gone or _natoma_was_here(app, application, stored, current.config_url)):
            return Plan(step=self.name, facts=facts, info={
                "note": "the saved credentials are kept: nothing shows natoma-entra saved them (no job, role or record "
                        "of it on this app, and not the configured SCIM URL)"})
        body, dropped = cleared_body(stored)
        warnings = [f"saved settings {', '.join(sorted(dropped))} read back masked, so they cannot be sent back: if "
                    "Graph replaces the whole set, they are emptied too"] if dropped else []
        change = Change(action="delete", target="saved SCIM credentials",
                        detail={"why": "Tenant URL and Secret Token emptied: nothing uses them once the job is gone"})
        return Plan(step=self.name, changes=[change], warnings=warnings, facts=facts,
                    operations=[ClearSecrets(sp_id=app.sp_id, items=body["value"], app_name=app.display_name)])

    async def apply(self, context: ApplyContext, plan: Plan[ClearSecrets]) -> Applied:
        context.session.forget("secrets")
        return Applied([await _run(context.session, self.name, plan, "emptying the saved credentials")],
                       context.facts)


async def _grants(session: "Session", options: "Options") -> Found:
    """The app, its roles, its assignments and the configured groups (what the assign and roles steps plan with)."""
    t = await target(session, options)
    if t.app is None:
        return Found(target=t)
    assignments, groups = await session.graph.gather(read_assignments(session), configured_groups(session))
    return Found(target=t, roles=current_roles(t.app), assignments=assignments,
                 groups=[GroupFacts(g, [], []) for g in groups])


class AssignmentsStep(Step[Found, DeleteAssignment, Options]):
    name = "assign"
    reading = "reading the app's assignments"
    needs_app = False

    async def read(self, session: "Session", desired: Desired[Options]) -> Found:
        return await _grants(session, desired.options)

    def plan(self, current: Found, desired: Desired[Options], facts: Facts) -> Plan[DeleteAssignment]:
        app = current.app
        if app is None:
            return Plan(step=self.name, facts=facts)
        mine, others = _split(current.assignments, app, {g.group["id"] for g in current.groups})
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


def _roles_removed(app: App, roles: list[dict], others: list[dict]) -> list[dict]:
    """Pure: our roles (their deterministic ids) that nobody outside the configured groups holds."""
    ours, held = _ours(app), {a["appRoleId"] for a in others}
    return [r for r in roles if r.get("id") in ours and r["id"] not in held]


class RolesStep(Step[Found, PatchAppRoles, Options]):
    name = "roles"
    reading = "reading the app roles"
    needs_app = False

    async def read(self, session: "Session", desired: Desired[Options]) -> Found:
        return await _grants(session, desired.options)

    def plan(self, current: Found, desired: Desired[Options], facts: Facts) -> Plan[PatchAppRoles]:
        app, roles = current.app, current.roles
        if app is None:
            return Plan(step=self.name, facts=facts)
        ours = _ours(app)
        _mine, others = _split(current.assignments, app, {g.group["id"] for g in current.groups})
        held = {a["appRoleId"] for a in others}
        remove = _roles_removed(app, roles, others)
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


def _grants_beyond(facts: GroupFacts, app: App | None) -> list[dict]:
    """Pure: a group's grants other than our roles on this app (those the assign step removes)."""
    ours = set(_ours(app)) if app is not None else set()
    return [a for a in facts.grants
            if not (app is not None and a.get("resourceId") == app.sp_id and a.get("appRoleId") in ours)]


def blast_radius(facts: GroupFacts, app: App | None) -> dict[str, Any]:
    """Pure: what deleting the group takes with it: its members' membership, its grants on other apps (and any
    grant on this app that is not ours). Security groups cannot be restored (group-delete.md)."""
    n = len(facts.members)
    grants = _grants_beyond(facts, app)
    return {"members": f"{n} or more" if n >= MEMBERS_SHOWN else n,
            "grants it takes": [f"{a.get('resourceDisplayName') or a.get('resourceId')} -> {a.get('appRoleId')}"
                                for a in grants]}


def _takes(radius: dict[str, Any]) -> str:
    """Pure: a group's blast radius in words, for the plan's line."""
    members, grants = radius["members"], radius["grants it takes"]
    who = "no member" if members == 0 else f"{members} member(s)' membership"
    return f"{who} and " + (f"{len(grants)} grant(s) beyond this app's Natoma roles: {', '.join(grants)}" if grants
                            else "no grant beyond this app's Natoma roles")


class GroupsStep(Step[Found, Union[DeleteGroup, ForgetTags], Options]):
    name = "groups"
    reading = "reading the configured groups"
    needs_app = False

    async def read(self, session: "Session", desired: Desired[Options]) -> Found:
        t, groups = await session.graph.gather(target(session, desired.options), configured_groups(session))
        named = _named(desired.options)
        recorded = marks.group_ids(t.application)
        asked = [g for g in groups if _names_group(g, named)
                 or (desired.options.delete_groups and str(g["id"]).lower() in recorded)]
        facts = await session.graph.gather(*(group_facts(session, g) for g in asked))
        rest = [GroupFacts(g, [], []) for g in groups if g not in asked]
        return Found(target=t, groups=[*facts, *rest])

    def plan(self, current: Found, desired: Desired[Options], facts: Facts) -> Plan[Union[DeleteGroup, ForgetTags]]:
        named, app, application = _named(desired.options), current.app, current.target.application
        recorded = marks.group_ids(application)
        changes, warnings, kept = [], [], []
        ops: list[Union[DeleteGroup, ForgetTags]] = []
        forget: list[str] = []
        for gf in current.groups:
            g = gf.group
            by_name = _names_group(g, named)
            ours = str(g["id"]).lower() in recorded and has_our_unique_name(g)
            if not by_name and not (ours and desired.options.delete_groups):
                if desired.options.delete_groups:
                    kept.append(f"{g['displayName']} (not recorded as made by natoma-entra for this app)")
                continue
            radius = blast_radius(gf, app)
            if not by_name and (gf.members or radius["grants it takes"]):
                why = "; ".join(x for x in (f"{radius['members']} member(s)" if gf.members else "",
                                            f"grants beyond this app's Natoma roles: {', '.join(radius['grants it takes'])}"
                                            if radius["grants it takes"] else "") if x)
                warnings.append(f"group {g['displayName']} is kept although natoma-entra made it: {why}; deleting it "
                                "would take them (security groups cannot be restored). If it should go with them, run "
                                f"`natoma-entra teardown --delete {g['id']}`")
                continue
            why = "named by --delete" if by_name else "made by --create-groups for this app"
            changes.append(Change(action="delete", target=f"group {g['displayName']}",
                                  detail={"id": g["id"], "why": f"{why}; takes {_takes(radius)}", **radius}))
            ops.append(DeleteGroup(group_id=g["id"]))
            if str(g["id"]).lower() in recorded:
                forget.append(marks.group_tag(g["id"]))
        ops += _forget(application, forget)
        info = {"kept": "; ".join(kept)} if kept else {}
        return Plan(step=self.name, info=info, facts=facts, changes=changes, operations=ops, warnings=warnings)

    async def apply(self, context: ApplyContext, plan: Plan[Union[DeleteGroup, ForgetTags]]) -> Applied:
        return Applied([await _run(context.session, self.name, plan, "deleting the groups")], context.facts)


def app_blockers(found: Found, options: Options) -> list[str]:
    """Pure: what is on the app besides what this teardown removes (other jobs, roles, grants): an app with any of it
    is kept unless named by --delete."""
    app, application = found.app, found.target.application
    if app is None:
        return []
    out = []
    left_jobs = [j for j in found.jobs if j not in jobs_deleted(found.jobs, application, options)]
    if left_jobs:
        out.append(f"{len(left_jobs)} provisioning job(s) not natoma-entra's ({', '.join(j['id'] for j in left_jobs)})")
    ours = _ours(app)
    roles = [r for r in found.roles if not is_template_role(r) and r.get("id") not in ours]
    if roles:
        out.append(f"{len(roles)} app role(s) not natoma-entra's "
                   f"({', '.join(str(r.get('displayName') or r.get('value')) for r in roles)})")
    mine, _others = _split(found.assignments, app, {g.group["id"] for g in found.groups})
    grants = [a for a in found.assignments if a not in mine]
    if grants:
        out.append(f"{len(grants)} grant(s) beyond the configured groups' Natoma roles "
                   f"({', '.join(str(a.get('principalDisplayName') or a.get('principalId')) for a in grants[:5])}"
                   f"{', ...' if len(grants) > 5 else ''})")
    return out


class AppStep(Step[Found, Union[DeleteServicePrincipal, DeleteApplication], Options]):
    name = "app"
    reading = "looking up the app"
    needs_app = False

    async def read(self, session: "Session", desired: Desired[Options]) -> Found:
        t = await target(session, desired.options)
        if t.app is None:
            return Found(target=t)
        jobs, assignments, groups = await session.graph.gather(
            list_jobs(session, t.app), read_assignments(session), configured_groups(session))
        return Found(target=t, jobs=jobs, assignments=assignments, roles=current_roles(t.app),
                     groups=[GroupFacts(g, [], []) for g in groups])

    def plan(self, current: Found, desired: Desired[Options],
             facts: Facts) -> Plan[Union[DeleteServicePrincipal, DeleteApplication]]:
        app, t, named = current.app, current.target, _named(desired.options)
        if app is None:
            orphans = [a for a in t.orphans if desired.options.delete_app or _names_app(None, a, named)]
            if not orphans:
                return _nothing(self.name, current, facts)
            return Plan(step=self.name, facts=facts, changes=[
                Change(action="delete", target=f"app registration {a.get('displayName')}",
                       detail={"appId": a.get("appId"), "why": "recorded as made by natoma-entra; its service principal "
                                                             "is gone already (an interrupted teardown)"})
                for a in orphans], operations=[DeleteApplication(application_id=a["id"]) for a in orphans])
        by_name = _names_app(app, t.application, named)
        if not by_name and not marks.created(t.application):
            return Plan(step=self.name, facts=facts,
                        warnings=[f"the app {app.display_name!r} is not recorded as made by `natoma-entra app create` "
                                  "(no natoma-entra:created tag on its app registration): --delete-app leaves it "
                                  f"alone; if it should go, run `natoma-entra teardown --delete {app.app_id}`"])
        blockers = app_blockers(current, desired.options)
        if blockers and not by_name:
            return Plan(step=self.name, facts=facts,
                        warnings=[f"the app {app.display_name!r} is kept although natoma-entra made it: "
                                  f"{'; '.join(blockers)}; deleting it would take them. If it should go with them, run "
                                  f"`natoma-entra teardown --delete {app.app_id}`"])
        radius = {"takes": "; ".join(blockers) if blockers else "nothing but what this teardown removes",
                  "restore": "restorable from the tenant's deleted items for 30 days"}
        application_id = (app.application or {}).get("id")
        ops: list[Union[DeleteServicePrincipal, DeleteApplication]] = [DeleteServicePrincipal(sp_id=app.sp_id)]
        if application_id:
            ops.append(DeleteApplication(application_id=application_id))
        why = "named by --delete" if by_name else "made by `natoma-entra app create`"
        return Plan(step=self.name, facts=facts, operations=ops,
                    changes=[Change(action="delete", target=f"app {app.display_name}",
                                    detail={"appId": app.app_id, **radius,
                                            "why": f"{why}; takes {radius['takes']}; {radius['restore']}"})])

    async def apply(self, context: ApplyContext,
                    plan: Plan[Union[DeleteServicePrincipal, DeleteApplication]]) -> Applied:
        return Applied([await _run(context.session, self.name, plan, "deleting the app")], context.facts)


def steps_for(options: Options) -> list[AnyStep]:
    """In reverse of setup: the job (and its mapping), its saved credentials, the assignments, the roles; then what
    was asked for (--delete-groups, --delete-app, or named by --delete). With no app, the first step says so and only
    the groups (and an application left without its service principal) are left to undo."""
    steps: list[AnyStep] = [JobStep(), CredentialsStep(), AssignmentsStep(), RolesStep()]
    if options.delete_groups or options.delete:
        steps.append(GroupsStep())
    if options.delete_app or options.delete:
        steps.append(AppStep())
    return steps
