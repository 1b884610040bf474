"""Step 0 (asked for with `setup --create-app`, or `app create NAME`): the Natoma enterprise app exists. When no app
has the name, it is created from the non-gallery application template, the way the portal's "Create your own
application" does it, then waited for until the application and its service principal are readable.

Graph facts (Microsoft Graph docs applicationtemplate-instantiate.md; Entra app-provisioning known-issues.md):
- POST /applicationTemplates/{id}/instantiate {"displayName": ...} -> 201 {application, servicePrincipal}. The
  non-gallery template's id differs per national cloud (graph/clouds.py).
- An app registration made with POST /applications cannot be provisioned: it must come from the template.
- The new objects replicate: lists and GETs may not show them for a while (public scripts poll GET /applications/{id}
  after instantiate), so the step waits, bounded, and says so.
- Instantiate is never sent twice for one app: a 429 was not processed and is retried; after a 503/504 or a lost
  answer the app is looked up first (graph/retry.py), so Graph never makes a twin.

The app this step creates carries MARK in the application's `notes` (application resource: "notes: notes relevant
for the management of the application"): `teardown --delete-app` deletes only an app with that mark.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Union

from ..errors import UsageError
from ..graph.clouds import CLOUDS
from ..graph.errors import GraphError
from ..graph.lookups import App, AppNotFound, find_app, planned_app
from ..graph.odata import is_guid, seg
from ..graph.retry import AFTER_CREATE, Policy
from ..results import Change, StepResult
from .base import NEW_ID, JSON, Applied, ApplyContext, Desired, Facts, Operation, Options, Plan, Step
from .common import failed, made_after_all, wait_until

if TYPE_CHECKING:
    from ..session import Session

NAME = "app"
MARK = "Created by natoma-entra (app create). `natoma-entra teardown --delete-app` may delete it."


def made_by_us(app: App) -> bool:
    return MARK in ((app.application or {}).get("notes") or "")


class InstantiateApp(Operation):
    """POST /applicationTemplates/{id}/instantiate: the enterprise app and its registration, as the portal's "Create
    your own application" makes them. Not retried blindly: a second POST makes a second app."""

    kind: Literal["instantiate"] = "instantiate"
    template_id: str
    name: str

    @property
    def method(self) -> str:
        return "POST"

    @property
    def path(self) -> str:
        return f"/applicationTemplates/{seg(self.template_id)}/instantiate"

    @property
    def body(self) -> JSON:
        return {"displayName": self.name}


class MarkApp(Operation):
    """PATCH the new application's notes with MARK (teardown --delete-app deletes only an app that carries it)."""

    kind: Literal["mark-app"] = "mark-app"
    notes: str = MARK

    @property
    def method(self) -> str:
        return "PATCH"

    @property
    def path(self) -> str:
        return f"/applications/{NEW_ID}"

    @property
    def body(self) -> JSON:
        return {"notes": self.notes}


AppOperation = Union[InstantiateApp, MarkApp]


@dataclass
class Current:
    name: str
    app: App | None  # None: no app has the name
    template_id: str


class AppStep(Step[Current, AppOperation, Options]):
    """Step 0 of setup --create-app and `app create`: read before the others, whose reads need the app; when it is
    to be created, they plan against it (session.planned_app) and are read and planned again once it exists."""

    name = NAME
    reading = "looking up the app"
    reads_first = True

    async def read(self, session: "Session", desired: Desired[Options]) -> Current:
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
            session.planned_app = planned_app(ref)
            return Current(name=ref, app=None, template_id=template_id)

    def plan(self, current: Current, desired: Desired[Options], facts: Facts) -> Plan[AppOperation]:
        return plan(current, desired, facts)

    async def apply(self, context: ApplyContext, plan: Plan[AppOperation]) -> Applied:
        return await apply(context, plan)


def plan(current: Current, desired: Desired[Options], facts: Facts) -> Plan[AppOperation]:
    """Pure: nothing to do when the app exists; else one instantiate of the non-gallery template, then its mark."""
    if current.app is not None:
        return Plan(step=NAME, facts=facts, changes=[Change(action="none", target=f"app {current.app.display_name}",
                                                            detail={"appId": current.app.app_id})])
    ops: list[AppOperation] = [
        InstantiateApp(template_id=current.template_id, name=current.name, why="the non-gallery application template"),
        MarkApp(why="marks the app as made by natoma-entra (teardown --delete-app deletes only such an app)")]
    return Plan(step=NAME, changes=[Change(action="create", target=f"app {current.name}",
                                           detail={"template": current.template_id})],
                operations=ops, facts=facts.but(app_planned=True))


async def apply(context: ApplyContext, plan: Plan[AppOperation]) -> Applied:
    session = context.session
    graph = session.graph
    instantiate = next(op for op in plan.operations if isinstance(op, InstantiateApp))
    mark = next(op for op in plan.operations if isinstance(op, MarkApp))
    name = instantiate.name

    async def made() -> JSON | None:  # the answer was lost or 503/504: did Graph make the app?
        app = await made_after_all(session, lambda: _found(session, name), "creating the app")
        return None if app is None else {"application": app.application, "servicePrincipal": app.service_principal}

    try:
        created = await graph.post(instantiate.path, instantiate.body,
                                   policy=Policy(what="creating the app", applied=made))
        application = (created or {}).get("application") or {}
        if not application.get("id"):
            raise GraphError(status=502, code="UnconfirmedWrite", method="POST", path=instantiate.path,
                             message="Graph answered the instantiate without the new application",
                             fix="check `natoma-entra app create` again in a minute: a second run finds the app")
        session.progress(f"waiting for the new app {name!r} to be readable (Graph replication; up to about "
                         f"{session.waits.bound:g} s)...")
        await _mark(session, application["id"], mark.body)
        app = await _until_found(session, name)
    except GraphError as e:
        return Applied([failed(NAME, e, plan.changes, "creating the app")], context.facts)
    if app is None:
        return Applied([StepResult(step=NAME, status="failed", changes=plan.changes,
                                   error=f"the app {name!r} was created but is not readable yet (Graph replication)",
                                   fix="run the same command again in a minute: it finds the app and goes on")],
                       context.facts)
    session.planned_app = None
    session.known("app", app)
    return Applied([plan.result("changed", info={"appId": app.app_id, "servicePrincipalId": app.sp_id})],
                   context.facts)


async def _mark(session: "Session", application_id: str, body: dict) -> None:
    """PATCH the mark; the new application may answer 404 (or 403/409) until it has replicated."""
    await session.graph.patch(f"/applications/{seg(application_id)}", body,
                              policy=AFTER_CREATE.but(what="marking the new app"))


async def _found(session: "Session", name: str) -> App | None:
    """The app as the lookup every step uses finds it (its service principal and its application), or None."""
    try:
        app = await find_app(session.graph, name)
    except AppNotFound:
        return None
    return app if app.application is not None else None  # the application has not replicated yet: roles go there


async def _until_found(session: "Session", name: str) -> App | None:
    """The new app once the lookup finds it, or None when the run's replication waits run out."""
    found: list[App] = []

    async def check() -> bool:
        app = await _found(session, name)
        found[:] = [app] if app is not None else []
        return bool(found)

    return found[0] if await wait_until(session, check) else None


STEP = AppStep()
