"""Step 0 (asked for with `setup --create-app`, or `app create NAME`): the Natoma enterprise app exists. When no app
has the name, it is created from the non-gallery application template, the way the portal's "Create your own
application" does it, then waited for until the application and its service principal are readable.

Graph facts (Microsoft Graph docs applicationtemplate-instantiate.md; Entra app-provisioning known-issues.md):
- POST /applicationTemplates/{id}/instantiate {"displayName": ...} -> 201 {application, servicePrincipal}. The
  non-gallery template's id differs per national cloud (graph/clouds.py).
- An app registration made with POST /applications cannot be provisioned: it must come from the template.
- The new objects replicate: lists and GETs may not show them for a while (public scripts poll GET /applications/{id}
  after instantiate), so the step waits, bounded, and says so.

The app this step creates carries MARK in the application's `notes` (application resource: "notes: notes relevant
for the management of the application"): `teardown --delete-app` deletes only an app with that mark.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..graph.clouds import CLOUDS
from ..graph.errors import GraphError, UsageError
from ..graph.lookups import App, AppNotFound, find_app
from ..graph.odata import is_guid, seg
from ..results import Change, Report, StepResult
from .base import Desired, Facts, Operation, Plan
from .common import REPLICATING, failed, wait_until

NAME = "app"
MARK = "Created by natoma-entra (app create). `natoma-entra teardown --delete-app` may delete it."


def made_by_us(app: App) -> bool:
    return MARK in ((app.application or {}).get("notes") or "")


@dataclass
class Current:
    name: str
    app: App | None  # None: no app has the name
    template_id: str


async def read(session) -> Current:
    ref = (session.config.app or "").strip()
    if not ref:
        raise UsageError("no app given", fix="pass --app NAME (or set app = \"...\" in the config file)")
    template_id = CLOUDS[session.config.cloud].non_gallery_template_id
    try:
        return Current(name=ref, app=await session.app(), template_id=template_id)
    except AppNotFound:
        if is_guid(ref):  # an id cannot be created; find_app says so with its own error
            raise
        session.forget("app")
        return Current(name=ref, app=None, template_id=template_id)


def plan(current: Current, desired: Desired, facts: Facts) -> Plan:
    """Pure: nothing to do when the app exists; else one instantiate of the non-gallery template."""
    if current.app is not None:
        return Plan(step=NAME, changes=[Change(action="none", target=f"app {current.app.display_name}",
                                               detail={"appId": current.app.app_id})])
    op = Operation(kind="instantiate", method="POST", path=f"/applicationTemplates/{seg(current.template_id)}/instantiate",
                   body={"displayName": current.name}, why="the non-gallery application template")
    mark = Operation(kind="mark-app", method="PATCH", path="/applications/{new}", body={"notes": MARK},
                     why="marks the app as made by natoma-entra (teardown --delete-app deletes only such an app)")
    return Plan(step=NAME, changes=[Change(action="create", target=f"app {current.name}",
                                           detail={"template": current.template_id})],
                operations=[op, mark])


async def apply(session, plan: Plan, facts: Facts) -> tuple[StepResult, dict]:
    graph = session.graph
    instantiate, mark = plan.operations
    name = instantiate.body["displayName"]
    try:
        created = await graph.post(instantiate.path, instantiate.body)
        application = (created or {}).get("application") or {}
        if not application.get("id"):
            raise GraphError(status=502, code="UnconfirmedWrite", method="POST", path=instantiate.path,
                             message="Graph answered the instantiate without the new application",
                             fix="check `natoma-entra app create` again in a minute: a second run finds the app")
        session.progress(f"waiting for the new app {name!r} to be readable (Graph replication; up to about 70 s)...")
        await _mark(session, application["id"], mark.body)
        app = await _until_found(session, name)
    except GraphError as e:
        return failed(NAME, e, plan.changes, "creating the app"), {}
    if app is None:
        return StepResult(step=NAME, status="failed", changes=plan.changes,
                          error=f"the app {name!r} was created but is not readable yet (Graph replication)",
                          fix="run the same command again in a minute: it finds the app and goes on"), {}
    session.known("app", app)
    return plan.result("changed", info={"appId": app.app_id, "servicePrincipalId": app.sp_id}), {}


async def _mark(session, application_id: str, body: dict) -> None:
    """PATCH the mark; the new application may answer 404 (or 403/409) until it has replicated."""
    last: list[GraphError] = []

    async def attempt() -> bool:
        try:
            await session.graph.patch(f"/applications/{seg(application_id)}", body)
            return True
        except GraphError as e:
            if e.status not in REPLICATING:
                raise
            last[:] = [e]
            return False

    if not await wait_until(attempt):
        raise last[0]


async def _until_found(session, name: str) -> App | None:
    """The app as the lookup every step uses finds it (its service principal and its application), or None."""
    found: list[App] = []

    async def check() -> bool:
        try:
            app = await find_app(session.graph, name)
        except AppNotFound:
            return False
        if app.application is None:  # the application object has not replicated yet: roles go there
            return False
        found[:] = [app]
        return True

    return found[0] if await wait_until(check) else None


# -- the app first, then the other steps (setup --create-app, app create) -------------------------------------------

async def run_first(session, command: str, steps, desired: Desired, *, dry_run: bool, on_step, run_rest) -> Report:
    """The app step before the others. An app that exists: the others run as usual. An app to create: a dry run
    plans it and skips the others (they read the app, which does not exist yet); a real run checks the configured
    groups first (bad input writes nothing), creates the app, then runs the others against it."""
    from ..runner import planned_result
    from .assignments import resolve_groups

    rest = Desired(desired.config, replace(desired.options, create_app=False))
    try:
        current = await read(session)
    except GraphError as e:
        report = Report(command=command, dry_run=dry_run)
        report.add(failed(NAME, e, what="looking up the app"))
        return report
    p = plan(current, desired, Facts())
    if current.app is not None:
        report = (await run_rest(session, command, steps, rest, dry_run=dry_run, on_step=on_step) if steps else
                  Report(command=command, dry_run=dry_run, app=current.app.summary()))
        report.steps.insert(0, p.result("unchanged"))
        return report
    names = {getattr(s, "NAME", "") for s in steps}
    if "assign" in names:
        await resolve_groups(session)  # an unknown or ambiguous group stops the run before the app is made
    if "credentials" in names and not dry_run:
        # a new app needs credentials saved: no SCIM URL or no token at all stops the run before the app is made
        # (the token is tested against Graph once the app exists: it needs the app's service principal)
        from .credentials import wanted_url

        wanted_url(session.config)
        session.scim_token()
    report = Report(command=command, dry_run=dry_run, app={"displayName": current.name, "appId": "(not created yet)"})
    if dry_run:
        report.add(planned_result(p))
        for s in steps:
            report.add(StepResult(step=s.NAME, status="skipped",
                                  info={"why": "planned once the app exists (a dry run does not create it)"}))
        return report
    on_step(NAME)
    result, _ = await apply(session, p, Facts())
    if result.status == "failed":
        report.add(result)
        for s in steps:
            report.steps.append(StepResult(step=s.NAME, status="skipped", info={"why": f"{NAME} failed"}))
        return report
    if not steps:
        report.app = (await session.app()).summary()
        report.add(result)
        return report
    report = await run_rest(session, command, steps, rest, dry_run=False, on_step=on_step)
    report.steps.insert(0, result)
    return report
