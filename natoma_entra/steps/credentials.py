"""Step 4a: Natoma's SCIM tenant URL and secret token are saved, the scope is "sync only assigned users and groups",
and the connection test passes (guide step 4: Tenant URL, Secret Token, Test Connection, Save, Scope).

Graph facts (graph-api.md sections 6 and 7; Graph docs synchronization-serviceprincipal-put-synchronization.md,
synchronization-synchronizationjob-validatecredentials.md, Entra docs cross-tenant-synchronization-configure-graph.md):
- PUT /servicePrincipals/{id}/synchronization/secrets {"value": [{"key": "BaseAddress", ...}, ...]}: keys are the
  PascalCase synchronizationSecret enum names (camelCase gives 500 "Requested value 'baseAddress' was not found.").
  Whether PUT merges or replaces the stored set is UNCONFIRMED: we always send every key we want kept.
- GET .../secrets (in the OpenAPI, not in the method table) reads values back; secret values come back as "*".
  Which keys come back in clear is UNCONFIRMED: a "*" value is treated as unknown.
- POST .../jobs/{jobId}/validateCredentials {"useSavedCredentials": bool, "credentials": [...]} answers 204 when the
  SCIM endpoint accepts the credentials; without a job, POST .../jobs/validateCredentials with "templateId".
  The failure body is undocumented (expect 400 with Graph's reason in the message).
- SyncAll "false" = sync only assigned users and groups (SingleAppRoleAssignment is not compatible with "true").

The decision (design.md section 1, the issue): when the stored credentials pass with useSavedCredentials, the stored
URL is the wanted one and the scope is right, nothing is written ("verified"). Otherwise the new values are tested
first and saved only when they pass; a failing test leaves the stored credentials as they were.

The SCIM token is asked for lazily (session.scim_token()), only when a new value must be tested or written, and it
never goes into a StepResult, a log line or an error message.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..graph.errors import GraphError, NatomaEntraError, UsageError
from ..graph.odata import seg
from ..results import Change, StepResult
from ..redact import register
from ..session import Session
from .common import failed
from .job import choose_template, ensure_job, job_path, jobs_path, read_job

STEP = "credentials"
MASKED = "*"
OURS = ("BaseAddress", "SecretToken", "SyncAll")
SCOPE_LABEL = {"assigned": "sync only assigned users and groups", "all": "sync all users and groups"}
TOKEN_WAYS = ("set NATOMA_SCIM_TOKEN (or the variable scim.token_env names), pass --scim-token-file PATH, "
              "or pipe it with --scim-token-stdin")


# -- pure parts ---------------------------------------------------------------------------------------------------

def sync_all_value(scope: str) -> str:
    """The SyncAll secret for a scope: "false" = only assigned users and groups, "true" = everyone."""
    return "true" if scope == "all" else "false"


def stored_values(items: list[dict] | None) -> dict[str, str]:
    """GET secrets' value list -> {key: value}; values kept as read ("*" = masked)."""
    out: dict[str, str] = {}
    for it in items or []:
        if isinstance(it, dict) and isinstance(it.get("key"), str):
            v = it.get("value")
            out[it["key"]] = "" if v is None else str(v)
    return out


def readable(value: str | None) -> str | None:
    """A stored value we can compare: None when missing, empty or masked."""
    return None if value in (None, "", MASKED) else value


def has_token(stored: dict[str, str]) -> bool:
    """A token is stored when SecretToken is present and not empty ("*" when read back)."""
    return bool(stored.get("SecretToken"))


def mismatches(stored: dict[str, str], url: str, scope: str, *, rotate: bool = False) -> list[str]:
    """Pure: why the stored credentials cannot simply be verified; empty = test them with useSavedCredentials."""
    reasons: list[str] = []
    base = stored.get("BaseAddress")
    if not base and not has_token(stored):
        return ["no credentials saved"]
    if not base:
        reasons.append("no Tenant URL saved")
    elif base == MASKED:
        reasons.append("the saved Tenant URL cannot be read back (masked)")
    elif base != url:
        reasons.append(f"the saved Tenant URL is {base}")
    if not has_token(stored):
        reasons.append("no secret token saved")
    want = sync_all_value(scope)
    have = readable(stored.get("SyncAll"))
    if have is None:
        if stored.get("SyncAll") == MASKED:
            reasons.append("the saved scope cannot be read back (masked)")
        else:
            reasons.append(f"no scope saved (want {SCOPE_LABEL[scope]})")
    elif have.strip().lower() != want:
        was = SCOPE_LABEL["all"] if have.strip().lower() == "true" else f"SyncAll={have!r}"
        reasons.append(f"scope: {was} -> {SCOPE_LABEL[scope]}")
    if rotate:
        reasons.append("--rotate: a new token is saved even though the stored one may still work")
    return reasons


def secrets_body(stored: dict[str, str], url: str, token: str, scope: str) -> tuple[dict, list[str]]:
    """Pure: the PUT body (our three keys + every other key that reads back in clear) and the keys dropped because
    their value is masked and so cannot be sent back."""
    items = [{"key": "BaseAddress", "value": url}, {"key": "SecretToken", "value": token},
             {"key": "SyncAll", "value": sync_all_value(scope)}]
    dropped: list[str] = []
    for key, value in stored.items():
        if key in OURS:
            continue
        if value == MASKED:
            dropped.append(key)
        else:
            items.append({"key": key, "value": value})
    return {"value": items}, dropped


def validate_body(url: str | None = None, token: str | None = None, *, saved: bool = False,
                  template_id: str | None = None) -> dict:
    """Pure: a validateCredentials body; templateId only for the collection-level call (no job yet)."""
    body: dict = {"useSavedCredentials": saved}
    if not saved:
        body["credentials"] = [{"key": "BaseAddress", "value": url}, {"key": "SecretToken", "value": token}]
    if template_id:
        body["templateId"] = template_id
    return body


def is_test_failure(err: GraphError) -> bool:
    """A refused connection test (the SCIM endpoint said no), not a Graph problem such as a missing permission."""
    if "credential" in (err.code or "").lower():
        return True
    return err.status in (400, 409, 422)  # not 401/403 (our own sign-in or permission), 429 or 5xx


def test_reason(err: GraphError) -> str:
    return err.message or err.code or f"HTTP {err.status}"


# -- reads and the decision (cached, so `prepare` and `run` share them) ---------------------------------------------

def secrets_path(sp_id: str) -> str:
    return f"/servicePrincipals/{seg(sp_id)}/synchronization/secrets"


async def read_secrets(session: Session) -> dict[str, str]:
    """The stored secrets ({} when none can be read: 404, or a service that does not offer GET)."""
    app = await session.app()

    async def read():
        try:
            doc = await session.graph.get(secrets_path(app.sp_id))
        except GraphError as e:
            if e.status in (400, 404, 405):
                session.remember("secrets_unreadable", True)
                return {}
            raise
        return stored_values((doc or {}).get("value"))

    return await session.cached("secrets", read)


@dataclass
class Decision:
    url: str
    scope: str
    stored: dict[str, str]
    reasons: list[str]  # empty: verified, nothing to write
    job: dict | None
    saved_test: str | None = None  # "passed" or the failure reason, when the stored credentials were tested

    @property
    def verified(self) -> bool:
        return not self.reasons


def wanted_url(session: Session) -> str:
    url = session.config.scim.url
    if not url:
        raise UsageError("no SCIM tenant URL given",
                         fix="pass --scim-url https://<your-tenant>.natoma.app/scim/v2 or set url in the [scim] table "
                             "of the config file (Natoma admin console: the SCIM endpoint URL)")
    return url


async def _validate(session: Session, job: dict | None, body: dict) -> None:
    """POST validateCredentials at job level, else at collection level with templateId (raises GraphError)."""
    app = await session.app()
    if job is not None:
        await session.graph.post(f"{job_path(app.sp_id, job['id'])}/validateCredentials", body)
    else:
        if "templateId" not in body:
            template_id, _ = await choose_template(session)
            body = {**body, "templateId": template_id}
        await session.graph.post(f"{jobs_path(app.sp_id)}/validateCredentials", body)


async def decide(session: Session) -> Decision:
    """Reads only: the stored secrets, the job, and (when they could be enough) a test of the stored credentials."""
    async def make() -> Decision:
        url = wanted_url(session)
        scope = session.config.scim.scope
        stored, job = await session.graph.gather(read_secrets(session), read_job(session))
        reasons = mismatches(stored, url, scope, rotate=bool(session.options.get("rotate")))
        d = Decision(url=url, scope=scope, stored=stored, reasons=reasons, job=job)
        if not reasons:
            session.progress("testing the saved SCIM credentials...")
            try:
                await _validate(session, job, validate_body(saved=True))
                d.saved_test = "passed"
            except GraphError as e:
                if not is_test_failure(e):
                    raise
                d.saved_test = test_reason(e)
                d.reasons = [f"the saved credentials fail the connection test: {test_reason(e)}"]
        return d

    return await session.cached("credentials_decision", make)


def get_token(session: Session, *, required: bool) -> str | None:
    """The SCIM token from the session's lazy source; registered for redaction the moment it is read."""
    try:
        token = session.scim_token()
    except UsageError:
        if required:
            raise
        return None
    if token is not None:
        token = token.strip()
        register(token)
    if not token:
        if required:
            raise UsageError("no SCIM token given, and a new one must be saved", fix=TOKEN_WAYS)
        return None
    return token


REJECTED_FIX = ("check the Tenant URL and the SCIM token in Natoma's admin console (a fresh token if it was "
                "revoked); the saved credentials were left as they were")


async def test_new_values(session: Session, d: Decision, token: str) -> GraphError | None:
    """The connection test of the wanted URL and the given token, once per run: None when it passes, else Graph's
    refusal. Changes nothing (a failed test leaves the saved credentials alone)."""
    async def test():
        session.progress(f"testing the connection to {d.url}...")
        try:
            await _validate(session, d.job, validate_body(d.url, token))
        except GraphError as e:
            if not is_test_failure(e):
                raise
            return e
        return None

    return await session.cached("credentials_new_test", test)


async def prepare(session: Session, *, test_token: bool = False) -> None:
    """Resolve every credentials input before the first write of a run: the URL, and the token when the stored
    credentials cannot simply be verified. With test_token (setup, whose earlier steps write), also the connection
    test of that token, so a wrong token stops the run before anything is written. Changes nothing."""
    d = await decide(session)
    if not d.reasons:
        return
    token = get_token(session, required=not session.dry_run)
    if token is None or not test_token:
        return
    err = await test_new_values(session, d, token)
    if err is not None:
        raise NatomaEntraError(f"the connection test failed for {d.url}: {test_reason(err)}; nothing was written",
                               fix=REJECTED_FIX)


# -- the step -----------------------------------------------------------------------------------------------------

def _target(url: str) -> str:
    return f"SCIM credentials ({url})"


def _failed_test(url: str, err: GraphError, changes: list[Change], info: dict) -> StepResult:
    return StepResult(
        step=STEP, status="failed", changes=changes, info={**info, "state": "rejected"},
        error=f"the connection test failed for {url}: {test_reason(err)}", fix=REJECTED_FIX)


async def run(session: Session) -> StepResult:
    try:
        d = await decide(session)
    except GraphError as e:
        return failed(STEP, e, what="reading the saved credentials")
    info: dict = {"url": d.url, "scope": SCOPE_LABEL[d.scope]}
    if d.job is not None:
        info["job"] = d.job.get("id")
    if d.verified:
        info.update(state="verified", connection_test="passed")
        change = Change(action="none", target=_target(d.url), detail={"why": "credentials verified"})
        if session.options.get("token_given"):  # a note, not a warning: CI keeps the variable set on every run
            info["note"] = "the given SCIM token was not used: the saved one passes (--rotate saves the given one)"
        return StepResult(step=STEP, status="unchanged", changes=[change], info=info)

    why = "; ".join(d.reasons)
    action = "create" if not d.stored.get("BaseAddress") and not has_token(d.stored) else "update"
    changes: list[Change] = []
    warnings: list[str] = []
    token = get_token(session, required=not session.dry_run)

    # 1. test the new values (a read: nothing changes on a failure)
    if token is not None:
        try:
            err = await test_new_values(session, d, token)
        except GraphError as e:
            return failed(STEP, e, what="testing the connection")
        if err is not None:
            return _failed_test(d.url, err, [Change(action=action, target=_target(d.url), detail={"why": why})], info)
        info["connection_test"] = "passed"
    else:  # dry run without a token: plan, untested
        info["connection_test"] = "not run (no SCIM token given)"

    # 2. the job (credentials run alone on a fresh app)
    job = d.job
    if job is None and session.dry_run and session.peek("job_planned"):
        pass  # an earlier step of this dry run (mapping) already plans the job
    elif job is None:
        try:
            job, job_change, job_warnings = await ensure_job(session)
        except GraphError as e:
            return failed(STEP, e, changes, "creating the provisioning job")
        warnings.extend(job_warnings)
        if job_change is not None:
            changes.append(job_change)
            if job is None:
                session.remember("job_planned", True)
        if job is not None:
            info["job"] = job.get("id")

    # 3. save
    body, dropped = secrets_body(d.stored, d.url, token or "", d.scope)
    if dropped:
        warnings.append(f"saved settings {', '.join(sorted(dropped))} read back masked, so they cannot be sent "
                        "again and are dropped; set them again in the portal if they mattered")
    if d.scope == "all":
        warnings.append("scope 'all' (Sync all users and groups) is not compatible with the SingleAppRoleAssignment "
                        "mapping (Entra docs, functions-for-customizing-application-data); the guide's choice is "
                        "'assigned'")
    if (readable(d.stored.get("SyncAll")) or "").lower() == "true" and d.scope == "assigned":
        warnings.append("the scope changed from all users to assigned users only: restart provisioning "
                        "(natoma-entra start --restart) so the next cycle applies it")
    detail = {"why": why, "keys": [it["key"] for it in body["value"]]}
    if dropped:
        detail["dropped"] = sorted(dropped)
    changes.append(Change(action=action, target=_target(d.url), detail=detail))
    if session.dry_run:
        session.remember("credentials_planned", True)
        info["state"] = "planned"
        return StepResult(step=STEP, status="planned", changes=changes, warnings=warnings, info=info)
    app = await session.app()
    try:
        await session.graph.put(secrets_path(app.sp_id), body)
    except GraphError as e:
        return failed(STEP, e, changes, "saving the credentials")
    session.remember("secrets", {**{k: v for k, v in d.stored.items() if k not in dropped},
                                 "BaseAddress": d.url, "SecretToken": MASKED, "SyncAll": sync_all_value(d.scope)})
    info["state"] = "saved"
    return StepResult(step=STEP, status="changed", changes=changes, warnings=warnings, info=info)
