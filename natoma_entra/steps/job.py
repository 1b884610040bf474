"""The provisioning job: find it, or create it from the app's "scim" template, and read its schema.

Graph facts (Microsoft Graph docs synchronization-synchronization-post-jobs.md, Entra docs
application-provisioning-config-problem-scim-compatibility.md):
- Non-gallery SCIM apps use templateId "scim"; job ids are read from GET jobs, never built. Microsoft documents
  POST jobs {"templateId": "scim"} for non-gallery apps (Entra docs "Known issues for SCIM compatibility"), not what
  GET .../templates lists for such an app (it may be empty, or list only other templates): so "scim" is always tried
  first, and a listed template is used only when Graph refuses "scim" (docs/graph-assumptions.md).
- A new job can be unreadable for a short while (replication): 404/403/409 on it are waited out briefly (Terraform
  does too; graph/retry.py).
- POST jobs is not safe to repeat blindly (a second job): a 429 is retried (not processed), and after a 503/504 or a
  lost answer the jobs are listed first, so a job Graph made after all is used instead of asking for a second one.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from ..errors import UsageError
from ..graph.errors import GraphError
from ..graph.odata import seg
from ..graph.retry import AFTER_CREATE, Policy
from ..marks import job_tag, record_or_warn
from .base import JSON, Operation
from .common import made_after_all, wait_until

if TYPE_CHECKING:
    from ..session import Session

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


class CreateJob(Operation):
    """POST .../synchronization/jobs from a template: "scim" first, then the app's listed templates in order when
    Graph refuses it (docs/graph-assumptions.md). Not repeated blindly: a second POST would make a second job."""

    kind: Literal["create-job"] = "create-job"
    also: ClassVar[tuple[str, ...]] = ("update-application",)  # the new job is recorded on the app (marks.py)
    sp_id: str
    template_id: str
    fallbacks: list[str] = []

    @property
    def method(self) -> str:
        return "POST"

    @property
    def path(self) -> str:
        return jobs_path(self.sp_id)

    @property
    def body(self) -> JSON:
        return {"templateId": self.template_id}


async def read_job(session: "Session") -> dict | None:
    app = await session.app()
    if app.planned:
        return None  # the app this run creates has no job yet
    return await session.cached("job", lambda: _list_and_pick(session, app.sp_id))


async def _list_and_pick(session: "Session", sp_id: str) -> dict | None:
    jobs = await session.graph.list(jobs_path(sp_id))
    job = pick_job(jobs)
    if job is None and len(jobs) > 1:
        listing = ", ".join(f"{j.get('id')} (template {j.get('templateId')})" for j in jobs)
        raise UsageError(f"the app has {len(jobs)} provisioning jobs and none from the 'scim' template: {listing}",
                         fix="remove the extra jobs in the portal (Provisioning) or use a SCIM app")
    return job


async def read_templates(session: "Session") -> list[dict]:
    app = await session.app()
    if app.planned:
        return []
    # no $select: the synchronization list-templates page documents no OData query parameters
    return await session.cached("templates", lambda: session.graph.list(
        f"/servicePrincipals/{seg(app.sp_id)}/synchronization/templates"))


def template_choice(templates: list[dict]) -> tuple[str, list[str]]:
    """Pure: ("scim", the listed templates to fall back on, in order, when Graph refuses "scim")."""
    ids = [t["id"] for t in templates if isinstance(t, dict) and isinstance(t.get("id"), str) and t["id"]]
    return SCIM_TEMPLATE, [i for i in ids if i != SCIM_TEMPLATE]


def template_schema_path(sp_id: str, template_id: str) -> str:
    return f"/servicePrincipals/{seg(sp_id)}/synchronization/templates/{seg(template_id)}/schema"


async def read_schema(session: "Session", job: dict) -> dict:
    app = await session.app()
    return await session.cached("schema", lambda: session.graph.get(f"{job_path(app.sp_id, job['id'])}/schema"))


async def create_job(session: "Session", template_id: str, fallbacks: list[str]) -> tuple[dict, str, list[str]]:
    """(the new job once readable, the template it came from, warnings). POST is never sent twice for one job: after
    an answer that may hide a job Graph made (503/504, a lost answer), the jobs are listed first; a 409 means another
    run created it, so it is found by listing. A refused template (400/404) falls back to the listed ones, said out
    loud."""
    app = await session.app()
    warnings: list[str] = []
    created = None

    async def made() -> JSON | None:  # the POST's answer was lost or 503/504: did Graph make the job?
        async def listed() -> JSON | None:
            return pick_job(await session.graph.list(jobs_path(app.sp_id)))
        found: JSON | None = await made_after_all(session, listed, "creating the provisioning job")
        return found

    candidates = [template_id, *fallbacks]
    for n, tid in enumerate(candidates):
        try:
            created = await session.graph.post(jobs_path(app.sp_id), {"templateId": tid},
                                               policy=Policy(what="creating the provisioning job", applied=made))
        except GraphError as e:
            if e.status == 409:  # another run created it between our read and our POST: find it below
                created = None
            elif e.status in (400, 404) and n + 1 < len(candidates):
                warnings.append(f"Graph refused a job from the {tid!r} template ({e.headline}); "
                                f"trying the app's listed template {candidates[n + 1]!r}")
                continue
            elif e.status in (400, 404):
                raise UsageError(f"Graph refused a provisioning job from the {tid!r} template ({e.headline})"
                                 + ("" if fallbacks else " and the app lists no other template"),
                                 fix="create Natoma as a non-gallery app (Enterprise applications -> New application"
                                     " -> Create your own application); app registrations made with POST "
                                     "/applications cannot provision") from None
            else:
                raise
        template_id = tid
        break
    job_id = (created or {}).get("id") if isinstance(created, dict) else None
    if isinstance(created, dict) and job_id and created.get("templateId"):
        job = created  # Graph answered 201 with the job (synchronization-synchronization-post-jobs): no re-read;
        # the next call on it (its schema) waits out replication itself
    elif job_id:
        session.progress("waiting for the new provisioning job to be readable...")
        job = await session.graph.get(job_path(app.sp_id, job_id),
                                      policy=AFTER_CREATE.but(what="reading the new provisioning job"))
    else:  # no body, or a 409: the job shows in the list once Graph has replicated it
        session.progress("waiting for the new provisioning job to be listed...")
        found: list[dict] = []

        async def listed() -> bool:
            job_ = pick_job(await session.graph.list(jobs_path(app.sp_id)))
            found[:] = [job_] if job_ is not None else []
            return bool(found)

        if not await wait_until(session, listed):
            raise GraphError(status=404, code="JobNotReadable", method="GET", path=jobs_path(app.sp_id),
                             message=f"the new provisioning job is not listed after {session.waits.bound:g} s",
                             fix="Graph is still replicating: run the command again in a minute")
        job = found[0]
    session.known("job", job)
    # recorded as natoma-entra's on the app registration: teardown deletes only a recorded job (natoma_entra/marks.py)
    warnings += await record_or_warn(session, app, f"the provisioning job {job['id']}", add=[job_tag(job["id"])])
    return job, template_id, warnings


async def refresh_job(session: "Session") -> dict | None:
    session.forget("job")
    return await read_job(session)


__all__ = ["SCIM_TEMPLATE", "CreateJob", "create_job", "job_path", "jobs_path", "pick_job", "read_job",
           "read_schema", "read_templates", "refresh_job", "template_choice", "template_schema_path"]
