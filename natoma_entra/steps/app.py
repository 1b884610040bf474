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

from dataclasses import dataclass

from ..graph.clouds import CLOUDS
from ..graph.errors import GraphError, UsageError
from ..graph.lookups import App, AppNotFound, find_app
from ..graph.odata import is_guid, seg
from ..results import Change, StepResult
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
