"""Step 4b: the provisioning job is running (guide step 4, "Start provisioning"; "restart provisioning" in its
troubleshooting table).

Graph facts (Microsoft Graph docs synchronization-synchronizationjob-start.md,
synchronization-synchronizationjob-restart.md, synchronizationjobrestartcriteria.md, synchronizationstatus.md):
- POST .../jobs/{jobId}/start (no body, 204) resumes a paused job and clears quarantine. Microsoft warns not to call
  it while the job is running: we call it only when the job is Paused, NotConfigured, in Quarantine, or its schedule
  is not Active.
- POST .../jobs/{jobId}/restart {"criteria": {"resetScope": "Watermark, Escrows, QuarantineState"}} (204) forces a
  fresh cycle. resetScope is a flags enum: the SDK's models would drop it, so it goes as raw JSON
  (docs/dev/architecture.md, "raw JSON"). "None" and "ConnectorDataStore" are documented as "don't use".
- status.code: NotConfigured | NotRun | Active | Paused | Quarantine; schedule.state: Active | Disabled | Paused.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Union

from ..errors import UsageError
from ..graph.errors import GraphError
from ..graph.lookups import App
from ..graph.retry import Policy
from ..json_values import obj
from ..results import Change, StepResult
from .base import (DRIFTED, MISSING, JSON, Applied, ApplyContext, Desired, ExistingJob, Facts, JobRef, NewJob,
                   Operation, Options, Plan, Step, job_id_of, shown_job_id)
from .common import failed, wait_until
from .job import job_path, read_job

if TYPE_CHECKING:
    from ..session import Session

NAME = "start"
DEFAULT_RESET_SCOPE = "Watermark, Escrows, QuarantineState"  # the portal's "Restart provisioning"
RESET_SCOPES = ("Watermark", "Escrows", "QuarantineState", "Full", "ForceDeletes")
REFUSED_SCOPES = {"None": "use `natoma-entra start` without --restart instead",
                  "ConnectorDataStore": "Microsoft documents it as not to be used"}
STARTABLE_CODES = {"Paused", "NotConfigured", "Quarantine"}


# -- pure parts ---------------------------------------------------------------------------------------------------

def normalize_reset_scope(value: str | None) -> str:
    """--reset-scope "watermark,escrows" -> "Watermark, Escrows" (the flags enum's own spelling); bad values are a
    UsageError naming the allowed ones."""
    if value is None or not value.strip():
        return DEFAULT_RESET_SCOPE
    by_lower = {s.lower(): s for s in RESET_SCOPES}
    out: list[str] = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        refused = next((k for k in REFUSED_SCOPES if k.lower() == part.lower()), None)
        if refused:
            raise UsageError(f"--reset-scope {refused} is refused: {REFUSED_SCOPES[refused]}",
                             fix=f"choose from {', '.join(RESET_SCOPES)} (default: {DEFAULT_RESET_SCOPE})")
        if part.lower() not in by_lower:
            raise UsageError(f"--reset-scope: unknown value {part!r}",
                             fix=f"choose from {', '.join(RESET_SCOPES)}, comma-separated (default: {DEFAULT_RESET_SCOPE})")
        if by_lower[part.lower()] not in out:
            out.append(by_lower[part.lower()])
    return ", ".join(out)


def restart_body(reset_scope: str | None = None) -> dict:
    return {"criteria": {"resetScope": normalize_reset_scope(reset_scope)}}


def job_state(job: dict) -> tuple[str | None, str | None]:
    """(status.code, schedule.state)."""
    return obj(job.get("status")).get("code"), obj(job.get("schedule")).get("state")  # any other shape: unknown


def is_running(job: dict) -> bool:
    """Running = an Active schedule and a status that is neither paused, quarantined nor unconfigured."""
    code, schedule = job_state(job)
    return schedule == "Active" and code not in STARTABLE_CODES


def quarantine_reason(job: dict) -> str | None:
    q = obj(job.get("status")).get("quarantine")
    if not isinstance(q, dict):
        return None
    reason = q.get("reason")
    err = obj(q.get("error"))
    detail = err.get("message") or err.get("code")
    if reason and detail:
        return f"{reason}: {detail}"
    return reason or detail or "quarantined"


def job_info(job: dict) -> dict:
    """The job's state for StepResult.info (flat keys: the text report prints scalars)."""
    code, schedule = job_state(job)
    status = obj(job.get("status"))
    info: dict = {"job": job.get("id"), "status": code, "schedule": schedule}
    interval = obj(job.get("schedule")).get("interval")
    if schedule == "Active" and interval:
        info["interval"] = interval
    last = status.get("lastExecution")
    if isinstance(last, dict) and last:
        info["last_cycle"] = last.get("state")
        when = last.get("timeEnded") or last.get("timeBegan")
        if when:
            info["last_cycle_time"] = when
        err = last.get("error")
        if isinstance(err, dict) and (err.get("message") or err.get("code")):
            info["last_cycle_error"] = err.get("message") or err.get("code")
    reason = quarantine_reason(job)
    if reason:
        info["quarantine"] = reason
    return info


def cycle_warnings(info: dict) -> list[str]:
    """Pure: what the user should look at after reading the job's state."""
    out = []
    if info.get("quarantine"):
        out.append(f"the job is in quarantine: {info['quarantine']}")
    last = info.get("last_cycle")
    if last and last not in ("Succeeded",):
        err = f" ({info['last_cycle_error']})" if info.get("last_cycle_error") else ""
        out.append(f"the last provisioning cycle ended {last}{err}: see the provisioning logs "
                   "(natoma-entra logs --errors, or the portal's Provisioning logs)")
    return out


def start_decision(job: dict, *, restart: bool = False, reset_scope: str | None = None) -> tuple[str, Change]:
    """Pure: ("start" | "restart" | "none", the change)."""
    code, schedule = job_state(job)
    now = f"status {code}, schedule {schedule}"
    if restart:
        scope = normalize_reset_scope(reset_scope)
        return "restart", Change(action="update", target="provisioning job: restart",
                                 detail={"why": f"--restart: {now} -> {RESTARTED}; reset scope {scope}",
                                         "resetScope": scope})
    if is_running(job):
        return "none", Change(action="none", target="provisioning job: running", detail={"why": now})
    reason = quarantine_reason(job)
    was = now + (f", quarantine: {reason}" if reason else "")
    return "start", Change(action="update", target="provisioning job: start", detail={"why": f"{was} -> {RUNNING}"})


# what the job reads after a start or a restart (the change shows old -> new)
RUNNING = "running (status Active, schedule Active)"
RESTARTED = "a fresh cycle (status Active, schedule Active)"


# -- the step -----------------------------------------------------------------------------------------------------

class StartJob(Operation):
    """POST .../jobs/{id}/start (no body, 204): only on a job that is not running (Microsoft warns against it)."""

    kind: Literal["start"] = "start"
    sp_id: str
    job: JobRef
    credentials_unconfirmed: bool = False  # the secrets cannot be read: Graph's answer says whether they are saved

    @property
    def method(self) -> str:
        return "POST"

    @property
    def path(self) -> str:
        return f"{job_path(self.sp_id, shown_job_id(self.job))}/start"


class RestartJob(Operation):
    """POST .../jobs/{id}/restart with the reset scope (synchronizationjobrestartcriteria.md)."""

    kind: Literal["restart"] = "restart"
    sp_id: str
    job: JobRef
    reset_scope: str = DEFAULT_RESET_SCOPE
    credentials_unconfirmed: bool = False

    @property
    def method(self) -> str:
        return "POST"

    @property
    def path(self) -> str:
        return f"{job_path(self.sp_id, shown_job_id(self.job))}/restart"

    @property
    def body(self) -> JSON:
        return {"criteria": {"resetScope": self.reset_scope}}


StartOperation = Union[StartJob, RestartJob]


@dataclass
class Current:
    app: App
    job: dict | None
    credentials_saved: bool | None  # None: the secrets cannot be read (then Graph's answer to start decides)


class StartStep(Step[Current, StartOperation, Options]):
    name = NAME
    reading = "reading the provisioning job"

    async def read(self, session: "Session", desired: Desired[Options]) -> Current:
        from .credentials import has_token, read_secrets

        app = await session.app()
        job, secrets = await session.graph.gather(read_job(session), read_secrets(session))
        saved = (bool(secrets.values.get("BaseAddress")) and has_token(secrets.values)) if secrets.readable else None
        return Current(app=app, job=job, credentials_saved=saved)

    def plan(self, current: Current, desired: Desired[Options], facts: Facts) -> Plan[StartOperation]:
        return plan(current, desired, facts)

    async def apply(self, context: ApplyContext, plan: Plan[StartOperation]) -> Applied:
        return await apply(context, plan)


def _never_ran(job: dict) -> bool:
    code, _ = job_state(job)
    return code in ("NotConfigured", "NotRun") and not obj(job.get("status")).get("lastExecution")


def plan(current: Current, desired: Desired[Options], facts: Facts) -> Plan[StartOperation]:
    """Pure: start (or restart) the job unless it is running; nothing when it runs."""
    opts = desired.options
    job = current.job or facts.job
    if job is None:
        if facts.job_planned:
            return Plan(step=NAME, state=MISSING, facts=facts, changes=[
                Change(action="update", target="provisioning job: start",
                       detail={"why": f"once it is created: a new job -> {RUNNING}"})],
                operations=[StartJob(sp_id=current.app.sp_id, job=NewJob())])
        return Plan(step=NAME, info={"state": "no job"}, error="the app has no provisioning job yet",
                    fix="run natoma-entra mapping (or setup)", facts=facts)
    action, change = start_decision(job, restart=opts.restart, reset_scope=opts.reset_scope)
    before = job_info(job)
    if action == "none":
        return Plan(step=NAME, changes=[change], info={**before, "state": "running"}, warnings=cycle_warnings(before),
                    facts=facts)
    saved = True if facts.credentials_planned or facts.credentials_saved else current.credentials_saved
    if saved is False:
        return Plan(step=NAME, info={**before, "state": "not configured"},
                    error="the provisioning job has no admin credentials (Tenant URL and secret token)",
                    fix="run natoma-entra credentials first", facts=facts)
    warnings = []
    scope = normalize_reset_scope(opts.reset_scope)
    if action == "restart" and any(w in scope for w in ("ForceDeletes", "Full")):
        warnings.append(f"reset scope {scope!r}: the next cycle re-evaluates every user and may delete or disable "
                        "accounts in Natoma")
    ref = ExistingJob(id=job["id"])
    op: StartOperation = (RestartJob(sp_id=current.app.sp_id, job=ref, reset_scope=scope,
                                     credentials_unconfirmed=saved is None) if action == "restart"
                          else StartJob(sp_id=current.app.sp_id, job=ref, credentials_unconfirmed=saved is None))
    # for status: a job that never ran is missing; a paused or quarantined one has drifted (docs/status.md)
    state = MISSING if action == "start" and _never_ran(job) else DRIFTED
    return Plan(step=NAME, changes=[change], operations=[op], info=before, warnings=warnings, state=state, facts=facts)


async def apply(context: ApplyContext, plan: Plan[StartOperation]) -> Applied:
    session = context.session
    op = plan.operations[0]
    facts = context.facts
    restart = isinstance(op, RestartJob)
    job_id = job_id_of(op.job, facts)
    path = f"{job_path(op.sp_id, job_id)}/{'restart' if restart else 'start'}"

    async def started() -> JSON | None:  # the answer was lost or 503/504: does the job read running already?
        session.forget("job")
        now = await read_job(session)
        return now if now is not None and is_running(now) else None

    # start is not sent twice: Microsoft warns not to call it on a running job (synchronizationjob-start.md), so the
    # job is read first. A second restart only begins the fresh cycle again: it may be repeated.
    policy = Policy(what=f"{'restarting' if restart else 'starting'} the provisioning job", repeatable=restart,
                    applied=None if restart else started,
                    # a job created moments ago by this run may refuse start with 403/404/409 while Graph replicates it
                    replicating=isinstance(op.job, NewJob))
    try:
        await session.graph.post(path, op.body, policy=policy)
    except GraphError as e:
        if e.status == 400 and op.credentials_unconfirmed and "credential" in (e.message or "").lower():
            return Applied([StepResult(step=NAME, status="failed", info={**plan.info, "state": "not configured"},
                                       error=f"{op.kind} was refused: {e.message}",
                                       fix="run natoma-entra credentials first")], facts)
        return Applied([failed(NAME, e, plan.changes,
                               f"{'restarting' if restart else 'starting'} the provisioning job")], facts)
    # A 2xx counts only when the job reads back running (or in a fresh cycle): an answer from something that is not
    # Graph (a proxy, a wrong --graph-endpoint) must not show "started".
    seen: list[dict] = []

    async def running() -> bool:
        session.forget("job")
        now = await read_job(session)
        seen[:] = [now or {}]
        return now is not None and (is_running(now) or job_state(now)[0] == "Quarantine")

    try:
        confirmed = await wait_until(session, running)
    except GraphError:
        confirmed, seen[:] = False, [facts.job or {}]
    info = {**job_info(seen[0] or facts.job or {}), "state": "restarted" if restart else "started"}
    if not confirmed:
        code, schedule = job_state(seen[0] or {})
        return Applied([StepResult(step=NAME, status="failed", changes=plan.changes, info=info,
                                   error=f"Graph accepted the {op.kind} but the job still reads status {code}, "
                                         f"schedule {schedule}",
                                   fix="run natoma-entra status in a minute; if it stays so, check --graph-endpoint "
                                       "or a proxy")], facts)
    return Applied([StepResult(step=NAME, status="changed", changes=plan.changes, info=info,
                               warnings=plan.warnings + cycle_warnings(info))], facts.but(job=seen[0]))


STEP = StartStep()
