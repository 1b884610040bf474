"""Step 4a: Natoma's SCIM tenant URL and secret token are saved, the scope is "sync only assigned users and groups",
and the connection test passes (guide step 4: Tenant URL, Secret Token, Test Connection, Save, Scope).

Graph facts (Microsoft Graph docs synchronization-serviceprincipal-put-synchronization.md,
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

The decision: when the stored credentials pass with useSavedCredentials, the stored
URL is the wanted one and the scope is right, nothing is written ("verified"). Otherwise the new values are tested
first and saved only when they pass; a failing test leaves the stored credentials as they were.

The SCIM token is asked for lazily (session.scim_token()), only when a new value must be tested or written, and it
never goes into a StepResult, a log line or an error message.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Union

from ..errors import MissingInput, UsageError
from ..graph.errors import GraphError
from ..graph.odata import seg
from ..graph.retry import AFTER_CREATE, Policy
from ..redact import register
from ..results import Change, StepResult
from .base import (JSON, Applied, ApplyContext, Desired, ExistingJob, Facts, JobRef, NewJob, Operation, Options, Plan,
                   Step, job_id_of, shown_job_id)
from .common import failed
from .job import SCIM_TEMPLATE, CreateJob, create_job, job_path, jobs_path, read_job

if TYPE_CHECKING:
    from ..config import Config
    from ..session import Session

NAME = "credentials"
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
        pass  # masked on read-back: the saved-credentials test decides (unconfirmed(), docs/graph-assumptions.md)
    elif base != url:
        reasons.append(f"the saved Tenant URL is {base}")
    if not has_token(stored):
        reasons.append("no secret token saved")
    want = sync_all_value(scope)
    have = readable(stored.get("SyncAll"))
    if have is None:
        if stored.get("SyncAll") != MASKED:  # masked: unconfirmed, not a difference
            reasons.append(f"no scope saved (want {SCOPE_LABEL[scope]})")
    elif have.strip().lower() != want:
        was = SCOPE_LABEL["all"] if have.strip().lower() == "true" else f"SyncAll={have!r}"
        reasons.append(f"scope: {was} -> {SCOPE_LABEL[scope]}")
    if rotate:
        reasons.append("--rotate: a new token is saved even though the stored one may still work")
    return reasons


UNREADABLE = ("the saved credentials cannot be read back (GET .../synchronization/secrets is not offered), so the "
              "saved Tenant URL and scope are not compared with the wanted ones; the connection test decides")


def unconfirmed(stored: dict[str, str], readable: bool = True) -> list[str]:
    """Pure: what the saved credentials hold that cannot be compared because Graph reads it back masked, or does
    not read it back at all."""
    if not readable:
        return [UNREADABLE]
    out = []
    if stored.get("BaseAddress") == MASKED:
        out.append("the saved Tenant URL reads back masked, so it is not compared with the wanted one")
    if stored.get("SyncAll") == MASKED:
        out.append("the saved scope reads back masked, so it is not compared with the wanted one")
    return out


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


# What a refused connection test looks like when the SCIM endpoint itself said no. The failure body is undocumented
# (docs/graph-assumptions.md): the portal's own code names the credentials, or Graph wraps the endpoint's answer (its
# HTTP status, or why it could not be reached). A 400 that only mentions credentials, such as "validating credentials
# without a job is not supported", is not a verdict on the URL or the token.
_ENDPOINT_ANSWERS = ("invalid credentials", "credential validation failed", "unauthorized", "forbidden", "401",
                     "403", "could not connect", "unable to connect", "unreachable", "not reachable",
                     "name resolution", "timed out", "certificate", "ssl", "tls")


def is_test_failure(err: GraphError) -> bool:
    """A refused connection test (the SCIM endpoint said no), not a Graph problem such as a missing permission."""
    if "credential" in (err.code or "").lower():
        return True
    if err.status not in (400, 409, 422):  # 401/403 (our own sign-in or permission), 429, 5xx: not a verdict
        return False
    text = (err.message or "").lower()
    return any(w in text for w in _ENDPOINT_ANSWERS)


def is_inconclusive(err: GraphError) -> bool:
    """A connection test Graph refused for a reason that is not the credentials (e.g. the collection-level test
    without a job): test again at job level before saving anything."""
    return err.status in (400, 404, 409, 422) and not is_test_failure(err)


def test_reason(err: GraphError) -> str:
    return err.message or err.code or f"HTTP {err.status}"


# -- reads --------------------------------------------------------------------------------------------------------

def secrets_path(sp_id: str) -> str:
    return f"/servicePrincipals/{seg(sp_id)}/synchronization/secrets"


@dataclass
class Secrets:
    values: dict[str, str]
    readable: bool = True  # False: GET secrets is not offered (400/404/405): Graph's answers decide


async def read_secrets(session: "Session") -> Secrets:
    app = await session.app()
    if app.planned:
        return Secrets({})  # the app this run creates has none saved

    async def read() -> Secrets:
        try:
            doc = await session.graph.get(secrets_path(app.sp_id))
        except GraphError as e:
            if e.status in (400, 404, 405):
                return Secrets({}, readable=False)
            raise
        return Secrets(stored_values((doc or {}).get("value")))

    return await session.cached("secrets", read)


def wanted_url(config: "Config") -> str:
    url = config.scim.url
    if not url:
        raise UsageError("no SCIM tenant URL given",
                         fix="pass --scim-url https://<your-tenant>.natoma.app/scim/v2 or set url in the [scim] table "
                             "of the config file (Natoma admin console: the SCIM endpoint URL)")
    return url


async def validate(session: "Session", job: dict | None, body: dict, *, policy: Policy | None = None) -> None:
    """POST validateCredentials at job level, else at collection level with templateId (raises GraphError). Both are
    read-only POSTs: they change nothing."""
    app = await session.app()
    if job is not None:
        await session.graph.post(f"{job_path(app.sp_id, job['id'])}/validateCredentials", body, policy=policy)
    else:
        await session.graph.post(f"{jobs_path(app.sp_id)}/validateCredentials",
                                 {**body, "templateId": body.get("templateId") or SCIM_TEMPLATE}, policy=policy)


async def test_saved(session: "Session", job: dict | None) -> str | None:
    """The portal's Test Connection with the saved credentials: "passed", or the failure reason. Raises GraphError
    when Graph refused for another reason."""
    session.progress("testing the saved SCIM credentials...")
    try:
        await validate(session, job, validate_body(saved=True))
        return "passed"
    except GraphError as e:
        if not is_test_failure(e):
            raise
        return test_reason(e)


def get_token(session: "Session") -> str | None:
    """The SCIM token from the session's lazy source, or None when none was given; registered for redaction."""
    try:
        token = session.scim_token()
    except MissingInput:  # none given: fine for a dry run or verified credentials (a bad one given is an error)
        return None
    if token is not None:
        token = token.strip()
        register(token)
    return token or None


class TestCredentials(Operation):
    """The portal's Test Connection of the given URL and token at job level, before they are saved: needed when the
    early, job-less test was inconclusive (docs/graph-assumptions.md). A read-only POST."""

    kind: Literal["test-at-job-level"] = "test-at-job-level"
    sp_id: str
    job: JobRef
    url: str

    @property
    def method(self) -> str:
        return "POST"

    @property
    def path(self) -> str:
        return f"{job_path(self.sp_id, shown_job_id(self.job))}/validateCredentials"


class PutSecrets(Operation):
    """PUT .../synchronization/secrets: the Tenant URL, the scope and every other key that reads back in clear. The
    token is never in a plan: apply puts it in as SecretToken."""

    kind: Literal["put-secrets"] = "put-secrets"
    sp_id: str
    items: list[dict[str, str]]  # SecretToken's value is empty here
    replaces: bool = False  # --rotate: a saved token is replaced
    new_job: bool = False  # saved right after this run creates the job (or the app): replication is waited out

    @property
    def method(self) -> str:
        return "PUT"

    @property
    def path(self) -> str:
        return secrets_path(self.sp_id)

    @property
    def body(self) -> JSON:
        """The body as planned: the token's place is empty."""
        return {"value": [dict(it) for it in self.items]}

    def body_with(self, token: str) -> JSON:
        """The body as sent: the token in its place."""
        return {"value": [dict(it, value=token) if it["key"] == "SecretToken" else dict(it) for it in self.items]}

    @property
    def asks(self) -> bool:
        return self.replaces


CredentialsOperation = Union[CreateJob, TestCredentials, PutSecrets]


@dataclass
class Current:
    url: str
    scope: str
    stored: dict[str, str]
    secrets_readable: bool
    job: dict | None
    sp_id: str = ""
    saved_test: str | None = None  # "passed" or the failure reason, when the saved credentials were tested
    token_given: bool = False  # a token is at hand for a save
    new_test: str | None = None  # "passed", "inconclusive", or the failure reason, when a given token was tested
    new_test_error: str | None = None  # the inconclusive answer, said in the plan
    app_planned: bool = False  # the app does not exist yet (--create-app): nothing could be tested


def reasons_to_save(c: Current, *, rotate: bool = False) -> list[str]:
    """Pure: why the saved credentials cannot simply be verified; empty = test them with useSavedCredentials. When
    they cannot be read back (docs/graph-assumptions.md), only the connection test can tell: nothing to compare."""
    if not c.secrets_readable:
        if c.job is None:  # credentials are saved with a job (the portal's Provisioning page, this CLI)
            return ["no provisioning job yet, so no credentials are saved"]
        return ["--rotate: a new token is saved even though the stored one may still work"] if rotate else []
    return mismatches(c.stored, c.url, c.scope, rotate=rotate)


class CredentialsStep(Step[Current, CredentialsOperation, Options]):
    name = NAME
    reading = "reading the saved credentials"

    async def read(self, session: "Session", desired: Desired[Options]) -> Current:
        return await read(session, rotate=desired.options.rotate)

    def plan(self, current: Current, desired: Desired[Options], facts: Facts) -> Plan[CredentialsOperation]:
        return plan(current, desired, facts)

    async def apply(self, context: ApplyContext, plan: Plan[CredentialsOperation]) -> Applied:
        return await apply(context, plan)


async def read(session: "Session", *, rotate: bool = False) -> Current:
    """Reads only (the connection tests are read-only POSTs): the stored secrets, the job, the saved credentials'
    test when they could be enough, and otherwise the test of the given token."""
    url = wanted_url(session.config)
    scope = session.config.scim.scope
    app = await session.app()
    secrets, job = await session.graph.gather(read_secrets(session), read_job(session))
    cur = Current(url=url, scope=scope, stored=secrets.values, secrets_readable=secrets.readable, job=job,
                  sp_id=app.sp_id, app_planned=app.planned)
    if app.planned:  # tested once the app exists, before anything is saved
        cur.token_given = get_token(session) is not None
        return cur
    if not reasons_to_save(cur, rotate=rotate):
        cur.saved_test = await test_saved(session, job)
        if cur.saved_test == "passed":
            return cur
    token = get_token(session)
    if token is None:
        return cur
    cur.token_given = True
    session.progress(f"testing the connection to {url}...")
    try:
        await validate(session, job, validate_body(url, token))
        cur.new_test = "passed"
    except GraphError as e:
        if is_test_failure(e):
            cur.new_test = test_reason(e)
        elif job is None and is_inconclusive(e):
            cur.new_test, cur.new_test_error = "inconclusive", e.headline
        else:
            raise
    return cur


# -- the plan -------------------------------------------------------------------------------------------------------

REJECTED_FIX = ("check the Tenant URL and the SCIM token in Natoma's admin console (a fresh token if it was "
                "revoked); the saved credentials were left as they were")


def _target(url: str) -> str:
    return f"SCIM credentials ({url})"


# A save says what it does ("+ saved: the Tenant URL ..., the token and the scope"), not "created: credentials".
SAVE_VERBS = {"verb": "save", "done": "saved"}


def _save_target(url: str, scope: str) -> str:
    return f"the Tenant URL {url}, the SCIM token and the scope ({SCOPE_LABEL[scope]})"


def _save_why(reasons: list[str], action: str) -> str:
    return "none were saved before" if action == "create" else "; ".join(reasons)


def plan(current: Current, desired: Desired[Options], facts: Facts) -> Plan[CredentialsOperation]:
    """Pure: verified (nothing to write), or test-then-save the wanted URL, token and scope."""
    c = current
    info: dict[str, Any] = {"url": c.url, "scope": SCOPE_LABEL[c.scope]}
    job = c.job or facts.job
    if job is not None:
        info["job"] = job.get("id")
    reasons = reasons_to_save(c, rotate=desired.options.rotate)
    notes = unconfirmed(c.stored, c.secrets_readable)
    if not reasons and c.saved_test == "passed":
        info.update(state="verified", connection_test="passed")
        if notes:
            info["unconfirmed"] = "; ".join(notes)
        if desired.options.token_given:  # a note, not a warning: CI keeps the variable set on every run
            info["note"] = "the given SCIM token was not used: the saved one passes (--rotate saves the given one)"
        return Plan(step=NAME, changes=[Change(action="none", target=_target(c.url),
                                               detail={"why": "saved credentials pass the connection test"})],
                    info=info, state=None, facts=facts.but(credentials_saved=True))
    if c.saved_test and c.saved_test != "passed":
        reasons = [f"the saved credentials fail the connection test: {c.saved_test}"]
    reasons = reasons or ["the saved credentials cannot be read back and were not tested"]
    action: Literal["create", "update"] = ("create" if c.secrets_readable and not c.stored.get("BaseAddress")
                                           and not has_token(c.stored) else "update")
    why = _save_why(reasons, action)
    changes: list[Change] = []
    warnings: list[str] = []
    body, dropped = secrets_body(c.stored, c.url, "", c.scope)  # the token goes in at apply, never into a plan
    if dropped:
        warnings.append(f"saved settings {', '.join(sorted(dropped))} read back masked, so they cannot be sent "
                        "again and are dropped; set them again in the portal if they mattered")
    if not c.secrets_readable:
        warnings.append("the saved settings cannot be read back, so only the Tenant URL, the token and the scope "
                        "are sent; a setting saved in the portal besides those is lost if Graph replaces the whole "
                        "set")
    if c.scope == "all":
        warnings.append("scope 'all' (Sync all users and groups) is not compatible with the SingleAppRoleAssignment "
                        "mapping (Entra docs, functions-for-customizing-application-data); the guide's choice is "
                        "'assigned'")
    if (readable(c.stored.get("SyncAll")) or "").lower() == "true" and c.scope == "assigned":
        warnings.append("the scope changed from all users to assigned users only: restart provisioning "
                        "(natoma-entra start --restart) so the next cycle applies it")
    detail: dict[str, Any] = {"why": why, **SAVE_VERBS, "keys": [it["key"] for it in body["value"]]}
    if dropped:
        detail["dropped"] = sorted(dropped)
    ops: list[CredentialsOperation] = []
    job_ref: ExistingJob | NewJob = ExistingJob(id=job["id"]) if job is not None else NewJob()
    if job is None and not facts.job_planned:  # credentials run alone on a fresh app: they need a job
        changes.append(Change(action="create", target="provisioning job (template scim)",
                              detail={"templateId": SCIM_TEMPLATE}))
        ops.append(CreateJob(sp_id=c.sp_id, template_id=SCIM_TEMPLATE))
    if c.app_planned:
        info["connection_test"] = "to be run once the app exists, before saving"
    elif c.new_test == "inconclusive":
        info["connection_test"] = f"to be run at job level before saving (the early test: {c.new_test_error})"
        ops.append(TestCredentials(sp_id=c.sp_id, job=job_ref, url=c.url))
    elif c.new_test == "passed":
        info["connection_test"] = "passed"
    elif c.new_test is not None:
        changes.append(Change(action=action, target=_save_target(c.url, c.scope), detail={"why": why, **SAVE_VERBS}))
        return Plan(step=NAME, changes=changes, info={**info, "connection_test": c.new_test, "state": "rejected"},
                    error=f"the connection test failed for {c.url}: {c.new_test}; nothing was written",
                    fix=REJECTED_FIX, facts=facts)
    else:
        info["connection_test"] = "not run (no SCIM token given)"
    changes.append(Change(action=action, target=_save_target(c.url, c.scope), detail=detail))
    ops.append(PutSecrets(sp_id=c.sp_id, items=body["value"], new_job=isinstance(job_ref, NewJob) or c.app_planned,
                          replaces=desired.options.rotate and has_token(c.stored)))
    plan_: Plan[CredentialsOperation] = Plan(step=NAME, changes=changes, operations=ops, warnings=warnings,
                                             info={**info, "state": "planned"},
                                             facts=facts.but(credentials_planned=True))
    if not c.token_given:
        plan_.needs = "no SCIM token given, and new credentials must be saved"
        plan_.needs_fix = TOKEN_WAYS
    return plan_


async def apply(context: ApplyContext, plan: Plan[CredentialsOperation]) -> Applied:
    session = context.session
    facts = context.facts
    result = plan.result("changed")
    token = get_token(session)
    if token is None:  # the executor checks `needs` first; a source that stopped answering is still an input error
        raise UsageError("no SCIM token given, and new credentials must be saved", fix=TOKEN_WAYS)
    job = context.facts.job or facts.job
    for op in plan.operations:
        if isinstance(op, CreateJob) and job is None:
            try:
                job, _tid, warnings = await create_job(session, op.template_id, op.fallbacks)
            except GraphError as e:
                return Applied([failed(NAME, e, plan.changes, "creating the provisioning job")], context.facts)
            result.warnings.extend(warnings)
            result.info["job"] = job.get("id")
            facts = facts.but(job=job, job_planned=False)
        elif isinstance(op, TestCredentials):
            test_job = {"id": job_id_of(op.job, facts.but(job=job))}
            session.progress(f"testing the connection to {op.url} at job level...")
            try:  # a job created moments ago may answer 403/404/409 for a while (replication)
                await validate(session, test_job, validate_body(op.url, token),
                               policy=AFTER_CREATE.but(what="the connection test of the new job"))
            except GraphError as e:
                if not is_test_failure(e):
                    return Applied([failed(NAME, e, plan.changes, "testing the connection")], facts.but(job=job))
                return Applied([StepResult(step=NAME, status="failed", changes=plan.changes,
                                           info={**result.info, "connection_test": test_reason(e), "state": "rejected"},
                                           error=f"the connection test failed for {op.url}: {test_reason(e)}; "
                                                 "no credentials were saved", fix=REJECTED_FIX)], facts.but(job=job))
            result.info["connection_test"] = "passed"
        elif isinstance(op, PutSecrets):
            body = op.body_with(token)
            try:  # after a job this run created, the secrets may answer 403/409 while it replicates
                await session.graph.put(op.path, body, policy=AFTER_CREATE.but(what="saving the credentials")
                                        if op.new_job else None)
            except GraphError as e:
                return Applied([failed(NAME, e, plan.changes, "saving the credentials")], facts.but(job=job))
    session.forget("secrets")
    result.info["state"] = "saved"
    return Applied([result], facts.but(job=job, credentials_saved=True))


STEP = CredentialsStep()
