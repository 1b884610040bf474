"""Step 0 (asked for with `setup --create-app`, or `app create NAME`): the Natoma enterprise app exists. When no app
has the name, it is created from the non-gallery application template, the way the portal's "Create your own
application" does it, then waited for until the application and its service principal are readable.

Graph facts (Microsoft Graph docs applicationtemplate-instantiate.md; Entra app-provisioning known-issues.md):
- POST /applicationTemplates/{id}/instantiate {"displayName": ...} -> 201 {application, servicePrincipal}. The
  non-gallery template's id differs per national cloud (graph/clouds.py).
- An app registration made with POST /applications (or its upsert, application-upsert.md) cannot be provisioned: it
  must come from the template, and instantiate has no upsert: nothing stops two runs making two apps.
- The new objects replicate: lists and GETs may not show them for a while (public scripts poll GET /applications/{id}
  after instantiate), so the step waits, bounded, and says so.
- Instantiate is never sent twice for one app: a 429 was not processed and is retried; after a 503/504 or a lost
  answer the app is looked up first (graph/retry.py), so Graph never makes a twin.

Twins all the same (natoma_entra/twins.py): a run whose answer was lost, or which was interrupted, may have made an
app that the next run cannot list yet (it replicates), and two runs at once both find none. So once the app this run
made is readable (the bounded, said wait above), the step lists the apps with the name again: an app made before
its own has replicated by then too. When another is older, every run goes on with that one, and this run deletes its
own (made seconds ago, nothing on it yet). Looking again before instantiating would not need that delete, but it
would hold every first run for the whole replication window (tens of seconds) to find, nearly always, nothing.

The app this step creates is recorded as natoma-entra's by the tag `natoma-entra:created` on its application
(natoma_entra/marks.py): `teardown --delete-app` deletes only an app so recorded. Its notes say so to people (notes
are no evidence: anyone editing the app writes them).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Union

from ..errors import UsageError
from ..graph.clouds import CLOUDS
from ..graph.errors import GraphError
from .. import marks, twins
from ..graph.lookups import APP_FIELDS, SP_FIELDS, App, AppNotFound, paired, planned_app
from ..graph.odata import eq, is_guid, seg
from ..graph.retry import AFTER_CREATE, Policy
from ..results import Change, StepResult
from .base import NEW_ID, JSON, Applied, ApplyContext, Desired, Facts, Operation, Options, Plan, Step
from .common import failed, made_after_all, wait_until

if TYPE_CHECKING:
    from ..session import Session

NAME = "app"
MARK = "Created by natoma-entra (app create). `natoma-entra teardown --delete-app` may delete it."  # for people


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
    """PATCH the new application's tags with `natoma-entra:created`, every other tag kept (natoma_entra/marks.py;
    teardown --delete-app deletes only an app recorded so), and its notes with MARK for people."""

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
        return {"tags": ["...", marks.CREATED], "notes": self.notes}


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
        await marks.record(session, application["id"], add=[marks.CREATED], new=True, extra={"notes": mark.notes})
        visible = await _until_found(session, name, application["id"])
    except GraphError as e:
        return Applied([failed(NAME, e, plan.changes, "creating the app")], context.facts)
    if visible is None:
        return Applied([StepResult(step=NAME, status="failed", changes=plan.changes,
                                   error=f"the app {name!r} was created but is not readable yet (Graph replication)",
                                   fix="run the same command again in a minute: it finds the app and goes on")],
                       context.facts)
    mine = next(a for a in visible if (a.application or {}).get("id") == application["id"])
    used = twins.by_age(visible)[0]
    if used is not mine:  # another run made one before ours (or at the same moment): every run goes on with it
        try:
            await _delete_own_twin(session, mine)
        except GraphError as e:
            return Applied([failed(NAME, e, plan.changes, "deleting the twin this run made")], context.facts)
        why = (f"made moments before by another run (interrupted, or at the same time), found once Graph showed it; "
               f"the twin this run made (appId {mine.app_id}) was deleted")
        return _found_made(session, used, context.facts, why)
    # a newer twin, if any, is its own run's to delete (above); a later run names any left (twins.py)
    session.planned_app = None
    session.known("app", mine)
    return Applied([plan.result("changed", info={"appId": mine.app_id, "servicePrincipalId": mine.sp_id})],
                   context.facts)


def _found_made(session: "Session", app: App, facts: Facts, why: str) -> Applied:
    """The step's result when the app turned out to exist: made by another run, found instead of made again."""
    session.planned_app = None
    session.known("app", app)
    change = Change(action="none", target=f"app {app.display_name}", detail={"appId": app.app_id, "why": why})
    return Applied([StepResult(step=NAME, status="unchanged", changes=[change],
                               info={"appId": app.app_id, "servicePrincipalId": app.sp_id},
                               warnings=app.warnings())], facts)


async def _named(session: "Session", name: str) -> list[App]:
    """Every app with the name whose service principal and application are both readable (twins included)."""
    graph = session.graph
    sps, apps = await graph.gather(
        graph.list("/servicePrincipals", {"$filter": eq("displayName", name), "$select": SP_FIELDS}),
        graph.list("/applications", {"$filter": eq("displayName", name), "$select": APP_FIELDS}))
    return [a for a in paired(sps, apps) if a.application is not None]


async def _delete_own_twin(session: "Session", app: App) -> None:
    """The app this run made seconds ago, when another run's twin is the one every run uses: its service principal,
    then its application (serviceprincipal-delete.md, application-delete.md). A 404 means it is gone already."""
    for path in (f"/servicePrincipals/{seg(app.sp_id)}", f"/applications/{seg((app.application or {})['id'])}"):
        try:
            await session.graph.delete(path)
        except GraphError as e:
            if e.status != 404:
                raise


async def _found(session: "Session", name: str) -> App | None:
    """The app with the name as every run would pick it (its service principal and its application), or None."""
    found = await _named(session, name)
    return twins.order(found)[0] if found else None


async def _until_found(session: "Session", name: str, application_id: str) -> list[App] | None:
    """Every app with the name once the one this run made (its application id) is among them, or None when the run's
    replication waits run out."""
    found: list[App] = []

    async def check() -> bool:
        apps = await _named(session, name)
        found[:] = apps if any((a.application or {}).get("id") == application_id for a in apps) else []
        return bool(found)

    return found if await wait_until(session, check) else None


STEP = AppStep()
