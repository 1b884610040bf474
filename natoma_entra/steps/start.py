"""Step 4b: the provisioning job is running (guide step 4, "Start provisioning"; "restart provisioning" in its
troubleshooting table).

Graph facts (graph-api.md sections 4 and 8; Graph docs synchronization-synchronizationjob-start.md,
synchronization-synchronizationjob-restart.md, synchronizationjobrestartcriteria.md, synchronizationstatus.md):
- POST .../jobs/{jobId}/start (no body, 204) resumes a paused job and clears quarantine. Microsoft warns not to call
  it while the job is running: we call it only when the job is Paused, NotConfigured, in Quarantine, or its schedule
  is not Active.
- POST .../jobs/{jobId}/restart {"criteria": {"resetScope": "Watermark, Escrows, QuarantineState"}} (204) forces a
  fresh cycle. resetScope is a flags enum: the SDK models would drop it (graph-api.md section 13), so it goes as raw
  JSON. "None" and "ConnectorDataStore" are documented as "don't use".
- status.code: NotConfigured | NotRun | Active | Paused | Quarantine; schedule.state: Active | Disabled | Paused.
"""
from __future__ import annotations

from ..graph.errors import GraphError, UsageError
from ..results import Change, StepResult
from ..session import Session
from .common import failed
from .job import job_path, read_job, refresh_job

STEP = "start"
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
    return (job.get("status") or {}).get("code"), (job.get("schedule") or {}).get("state")


def is_running(job: dict) -> bool:
    """Running = an Active schedule and a status that is neither paused, quarantined nor unconfigured."""
    code, schedule = job_state(job)
    return schedule == "Active" and code not in STARTABLE_CODES


def quarantine_reason(job: dict) -> str | None:
    q = (job.get("status") or {}).get("quarantine")
    if not isinstance(q, dict):
        return None
    reason = q.get("reason")
    err = q.get("error") if isinstance(q.get("error"), dict) else {}
    detail = err.get("message") or err.get("code")
    if reason and detail:
        return f"{reason}: {detail}"
    return reason or detail or "quarantined"


def job_info(job: dict) -> dict:
    """The job's state for StepResult.info (flat keys: the text report prints scalars)."""
    code, schedule = job_state(job)
    status = job.get("status") or {}
    info: dict = {"job": job.get("id"), "status": code, "schedule": schedule}
    interval = (job.get("schedule") or {}).get("interval")
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


def plan(job: dict, *, restart: bool = False, reset_scope: str | None = None) -> tuple[str, Change]:
    """Pure: ("start" | "restart" | "none", the change)."""
    code, schedule = job_state(job)
    now = f"status {code}, schedule {schedule}"
    if restart:
        scope = normalize_reset_scope(reset_scope)
        return "restart", Change(action="update", target="provisioning job: restart",
                                 detail={"why": f"--restart ({now}); reset scope {scope}", "resetScope": scope})
    if is_running(job):
        return "none", Change(action="none", target="provisioning job: running", detail={"why": now})
    why = now
    reason = quarantine_reason(job)
    if reason:
        why += f"; quarantine: {reason}"
    return "start", Change(action="update", target="provisioning job: start", detail={"why": why})


# -- the step -----------------------------------------------------------------------------------------------------

async def _configured(session: Session) -> bool | None:
    """Are admin credentials saved? None when the secrets cannot be read (then Graph's answer to start decides)."""
    if session.dry_run and session.peek("credentials_planned"):
        return True
    from .credentials import has_token, read_secrets

    try:
        stored = await read_secrets(session)
    except GraphError:
        return None
    if not stored:  # none saved, or a service that does not let us read them (then start's answer decides)
        return None if session.peek("secrets_unreadable") else False
    return bool(stored.get("BaseAddress")) and has_token(stored)


def _no_credentials(info: dict | None = None, error: str | None = None) -> StepResult:
    return StepResult(step=STEP, status="failed", info={**(info or {}), "state": "not configured"},
                      error=error or "the provisioning job has no admin credentials (Tenant URL and secret token)",
                      fix="run natoma-entra credentials first")


async def run(session: Session) -> StepResult:
    restart = bool(session.options.get("restart"))
    reset_scope = session.options.get("reset_scope")
    try:
        job = await read_job(session)
    except GraphError as e:
        return failed(STEP, e, what="reading the provisioning job")
    if job is None:
        if session.dry_run and session.peek("job_planned"):
            return StepResult(step=STEP, status="planned", info={"state": "missing"}, changes=[
                Change(action="update", target="provisioning job: start", detail={"why": "once it is created"})])
        return StepResult(step=STEP, status="failed", info={"state": "no job"},
                          error="the app has no provisioning job yet",
                          fix="run natoma-entra mapping (or setup)")
    action, change = plan(job, restart=restart, reset_scope=reset_scope)
    before = job_info(job)
    if action == "none":
        return StepResult(step=STEP, status="unchanged", changes=[change], info={**before, "state": "running"},
                          warnings=cycle_warnings(before))
    configured = await _configured(session)
    if configured is False:
        return _no_credentials(before)
    scope_warnings = []
    if action == "restart" and any(w in normalize_reset_scope(reset_scope) for w in ("ForceDeletes", "Full")):
        scope_warnings.append(f"reset scope {normalize_reset_scope(reset_scope)!r}: the next cycle re-evaluates every "
                              "user and may delete or disable accounts in Natoma")
    if session.dry_run:
        # for status: a job that is not running is missing; a quarantined one has drifted
        state = "drifted" if before.get("status") == "Quarantine" else "missing"
        return StepResult(step=STEP, status="planned", changes=[change], info={**before, "state": state},
                          warnings=scope_warnings)
    app = await session.app()
    path = job_path(app.sp_id, job["id"])
    try:
        if action == "restart":
            await session.graph.post(f"{path}/restart", restart_body(reset_scope), retry=False)
        else:
            await session.graph.post(f"{path}/start", retry=False)
    except GraphError as e:
        if e.status == 400 and configured is None and "credential" in (e.message or "").lower():
            return _no_credentials(before, f"{action} was refused: {e.message}")
        return failed(STEP, e, what=f"{'restarting' if action == 'restart' else 'starting'} the provisioning job")
    try:
        job = await refresh_job(session) or job
    except GraphError:
        pass  # the start went through; the state is only for the report
    info = {**job_info(job), "state": "restarted" if action == "restart" else "started"}
    return StepResult(step=STEP, status="changed", changes=[change], info=info,
                      warnings=scope_warnings + cycle_warnings(info))
