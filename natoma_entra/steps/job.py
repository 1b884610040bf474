"""The provisioning job: find it, or create it from the app's "scim" template, and read its schema.

Graph facts (graph-api.md section 4; Graph docs synchronization-synchronization-post-jobs.md, Entra docs
application-provisioning-config-problem-scim-compatibility.md):
- Non-gallery SCIM apps use templateId "scim"; job ids are read from GET jobs, never built.
- A new job can be unreadable for a short while (replication): retry 404/403/409 briefly (Terraform does too).
- POST jobs is not safe to repeat blindly (a second job), so the SDK's automatic retry is off for it.
"""
from __future__ import annotations

from ..graph.errors import GraphError, UsageError
from ..graph.odata import seg
from ..results import Change
from ..session import Session
from .common import until_readable

SCIM_TEMPLATE = "scim"


def jobs_path(sp_id: str) -> str:
    return f"/servicePrincipals/{seg(sp_id)}/synchronization/jobs"


def job_path(sp_id: str, job_id: str) -> str:
    return f"{jobs_path(sp_id)}/{seg(job_id)}"


def pick_job(jobs: list[dict]) -> dict | None:
    """The SCIM job: the one from the scim template, else the only one there is."""
    scim = [j for j in jobs if (j.get("templateId") or "").lower() == SCIM_TEMPLATE]
    if scim:
        return scim[0]
    return jobs[0] if len(jobs) == 1 else None


async def read_job(session: Session) -> dict | None:
    app = await session.app()
    return await session.cached("job", lambda: _list_and_pick(session, app.sp_id))


async def _list_and_pick(session: Session, sp_id: str) -> dict | None:
    jobs = await session.graph.list(jobs_path(sp_id))
    job = pick_job(jobs)
    if job is None and len(jobs) > 1:
        listing = ", ".join(f"{j.get('id')} (template {j.get('templateId')})" for j in jobs)
        raise UsageError(f"the app has {len(jobs)} provisioning jobs and none from the 'scim' template: {listing}",
                         fix="remove the extra jobs in the portal (Provisioning) or use a SCIM app")
    return job


async def read_templates(session: Session) -> list[dict]:
    app = await session.app()
    # no $select: the synchronization list-templates page documents no OData query parameters
    return await session.cached("templates", lambda: session.graph.list(
        f"/servicePrincipals/{seg(app.sp_id)}/synchronization/templates"))


async def choose_template(session: Session) -> tuple[str, str | None]:
    """(template id, warning). 'scim' when offered; else the one other template, said out loud."""
    templates = await read_templates(session)
    ids = [t.get("id") for t in templates]
    if SCIM_TEMPLATE in ids:
        return SCIM_TEMPLATE, None
    if len(ids) == 1:
        return ids[0], f"the app offers no 'scim' template; using its only template {ids[0]!r}"
    if not ids:
        raise UsageError("the app offers no provisioning template, so it cannot provision",
                         fix="create Natoma as a non-gallery app (Enterprise applications -> New application -> "
                             "Create your own application); app registrations made with POST /applications cannot provision")
    raise UsageError(f"the app offers several templates and none is 'scim': {', '.join(map(str, ids))}",
                     fix="provision Natoma from a non-gallery (custom) enterprise app")


async def ensure_job(session: Session) -> tuple[dict | None, Change | None, list[str]]:
    """(job, change, warnings). In a dry run a missing job is (None, planned create, warnings)."""
    job = await read_job(session)
    if job is not None:
        return job, None, []
    template_id, warning = await choose_template(session)
    warnings = [warning] if warning else []
    change = Change(action="create", target=f"provisioning job (template {template_id})", detail={"templateId": template_id})
    if session.dry_run:
        session.remember("job_planned", True)  # later steps plan against the job this run would create
        return None, change, warnings
    app = await session.app()
    try:
        created = await session.graph.post(jobs_path(app.sp_id), {"templateId": template_id}, retry=False)
    except GraphError as e:
        if e.status != 409:
            raise
        created = None  # another run created it between our read and our POST: find it below
    job_id = (created or {}).get("id")

    async def read_new() -> dict:
        if job_id:
            return await session.graph.get(job_path(app.sp_id, job_id))
        found = pick_job(await session.graph.list(jobs_path(app.sp_id)))  # no body, or a 409: find it by listing
        if found is None:
            raise GraphError(status=404, code="JobNotReadable", method="GET", path=jobs_path(app.sp_id),
                             message="the new provisioning job is not readable yet",
                             fix="Graph is still replicating: run the command again in a minute")
        return found

    job = await until_readable(read_new, session.options.get("poll_delays"))
    session.remember("job", job)
    change.detail["jobId"] = job.get("id")
    return job, change, warnings


async def read_schema(session: Session, job: dict) -> dict:
    app = await session.app()
    return await session.cached("schema", lambda: session.graph.get(f"{job_path(app.sp_id, job['id'])}/schema"))


async def refresh_job(session: Session) -> dict | None:
    session.forget("job")
    return await read_job(session)
