"""Step 5: provision users on demand and show the role Natoma received (guide step 5).

plan() reads (who, with which request); apply() sends, paced to Graph's limit; the caller decides whether to apply.

Graph facts (graph-api.md section 8; Graph docs synchronization-synchronizationjob-provisionondemand.md,
synchronization-synchronizationjobsubject.md; Entra docs provision-on-demand.md):
- POST .../jobs/{jobId}/provisionOnDemand {"parameters": [{"ruleId": <synchronizationRules[].id of the rule whose
  objectMappings has sourceObjectName User>, "subjects": [{"objectId": <user id>, "objectTypeName": "User"}]}]}.
  Rule ids such as "<guid>#V2" are passed through unchanged.
- The answer is 200 with a stringKeyStringValuePair even when provisioning failed. Two shapes are known:
  1. key = JSON string {"result": "Success|Skipped|Failure", "details": {"errorCode", "errorMessage"}},
     value = JSON string of one record {action, modifiedProperties, provisioningSteps, statusInfo, ...};
  2. key = "Microsoft.Identity.Health.CPP.Common.DataContracts.SyncFabric.StatusInfo",
     value = JSON string of a list of such records (the verdict is then read from statusInfo and the steps).
  An unknown result, or a key that is neither, is never read as success.
- Rate limit: 5 requests per 10 seconds (429 with Retry-After). apply() paces its requests to that (Pacer), so a
  group is provisioned without 429s; the SDK's retry middleware is off for this POST, and a 429 that still comes is
  retried a bounded number of times here, so the total wait is bounded and the last error says why.
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Callable

from ..graph.errors import GraphError
from ..graph.lookups import find_user
from ..results import Change, StepResult
from ..natoma_roles import DISPLAY_NAME, ROLE_VALUES
from ..session import Session
from .common import failed
from .job import job_path, read_job, read_schema

STEP = "provision"
STATUS_INFO_KEY = "Microsoft.Identity.Health.CPP.Common.DataContracts.SyncFabric.StatusInfo"

# Retries of a throttled provisionOnDemand (429): attempts in all, and the longest single wait we accept.
MAX_ATTEMPTS = 4
MAX_WAIT = 30.0
BACKOFF = (2.0, 4.0, 8.0)  # seconds, when a 429 carries no Retry-After

FIX_NOT_ASSIGNED = ("assign the user's group to the app with a Natoma role (natoma-entra assign; the user must be a "
                    "direct member: nested groups are not in scope), then run provision again")
FIX_MULTIPLE_GRANTS = ("keep the user in one Natoma role group (remove them from the others), or send every role with "
                       "`natoma-entra mapping --multi-role`")
FIX_NO_ROLE = ("the user's group has no role selected in its assignment: edit the assignment and select a Natoma role "
               "(natoma-entra assign)")
FIX_NO_JOB = "run natoma-entra setup (or natoma-entra credentials and start) first"

# Skip reasons that mean "the user is not assigned / not in scope": nothing was provisioned.
NOT_ASSIGNED_CODES = {"noteffectivelyentitled", "notassigned", "outofscope",
                      "scopingfilter", "notinscope", "userisnotassigned", "notentitled"}
IN_SYNC_CODES = {"redundantexport"}
# A successful export with one of these actions took the user's access away (out of scope, unassigned).
DISABLING_ACTIONS = {"disable", "delete", "stageddelete", "softdelete"}


# -- the response, read defensively (pure) ----------------------------------------------------------------------------

@dataclass
class Verdict:
    result: str  # Success | Skipped | Failure | Unknown (as Entra said it, normalised)
    outcome: str  # provisioned | in_sync | disabled | not_assigned | failed | unknown
    error_code: str | None = None
    error_message: str | None = None
    recommended: str | None = None
    action: str | None = None  # Create | Update | Other ...
    role: str | None = None  # what Natoma was sent (or, when in sync, what the assignment gives)
    role_source: str | None = None  # "export" | "modifiedProperties" | "assignment"
    assigned: str | None = None  # appRoleAssignments as Entra saw them ("admin", "admin, member")
    modified: list[dict] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # why the answer could not be read fully

    @property
    def ok(self) -> bool:
        return self.outcome in ("provisioned", "in_sync")


def _loads(text: Any) -> tuple[Any, bool]:
    """(value, parsed): JSON inside a string; a dict/list is taken as is."""
    if isinstance(text, (dict, list)):
        return text, True
    if not isinstance(text, str):
        return None, False
    try:
        return json.loads(text), True
    except ValueError:
        return None, False


def _norm(value: Any) -> str:
    return str(value or "").strip().lower().replace("_", "").replace(" ", "")


def _is_role_attribute(name: Any) -> bool:
    n = str(name or "")
    return n == "roles" or n.startswith("roles[") or n.startswith("roles.")


def _role_from(records: list[dict]) -> tuple[str | None, str | None, str | None]:
    """(role sent to Natoma, where it was read, appRoleAssignments as Entra saw them)."""
    role = source = assigned = None
    for rec in records:
        for mp in rec.get("modifiedProperties") or []:
            if not isinstance(mp, dict):
                continue
            name = mp.get("displayName")
            if _is_role_attribute(name) and mp.get("newValue") not in (None, "") and role is None:
                role, source = str(mp["newValue"]), "modifiedProperties"
            if name == "appRoleAssignments" and mp.get("newValue") not in (None, ""):
                assigned = assigned or str(mp["newValue"])
        for st in rec.get("provisioningSteps") or []:
            if not isinstance(st, dict) or not isinstance(st.get("details"), dict):
                continue
            kind = _norm(st.get("type") or st.get("provisioningStepType"))
            for k, v in st["details"].items():
                if kind == "export" and _is_role_attribute(k) and v not in (None, "") and role is None:
                    role, source = str(v), "export"
                if k == "appRoleAssignments" and v not in (None, ""):
                    assigned = assigned or str(v)
    return role, source, assigned


def _status_from_record(rec: dict) -> tuple[str | None, str | None, str | None, str | None]:
    """(result, errorCode, reason, recommendedAction) from a record's statusInfo, else from its steps."""
    info = rec.get("statusInfo") if isinstance(rec.get("statusInfo"), dict) else {}
    status = info.get("status")
    code, reason, action = info.get("errorCode"), info.get("reason"), info.get("recommendedAction")
    err = info.get("errorInformation") if isinstance(info.get("errorInformation"), dict) else {}
    code = code or err.get("errorCode")
    reason = reason or err.get("reason")
    action = action or err.get("recommendedAction")
    steps = [s for s in rec.get("provisioningSteps") or [] if isinstance(s, dict)]
    if not status:
        if any(_norm(s.get("status")) == "failure" for s in steps):
            status = "Failure"
        elif any(_norm(s.get("status")) == "skipped" for s in steps):
            status = "Skipped"
        elif any(_norm(s.get("type") or s.get("provisioningStepType")) == "export" and _norm(s.get("status")) == "success"
                 for s in steps):
            status = "Success"
    if not code:  # a skip reason lives in the skipping step's details
        for s in steps:
            details = s.get("details") if isinstance(s.get("details"), dict) else {}
            if details.get("SkipReason") and _norm(s.get("status")) == "skipped":
                code = details["SkipReason"]
                reason = reason or s.get("description")
    return status, code, reason, action


def parse_response(body: Any) -> Verdict:
    """The verdict of a provisionOnDemand answer (both known shapes); anything unreadable is outcome "unknown"."""
    problems: list[str] = []
    if not isinstance(body, dict):
        return Verdict("Unknown", "unknown", problems=["the answer is not a JSON object"])
    key_raw, value_raw = body.get("key"), body.get("value")
    key, key_ok = _loads(key_raw)
    value, value_ok = _loads(value_raw)
    records: list[dict] = []
    if value_ok and isinstance(value, dict):
        records = [value]
    elif value_ok and isinstance(value, list):
        records = [r for r in value if isinstance(r, dict)]
    elif value_raw not in (None, ""):
        problems.append("the answer's value is not JSON")

    result = code = message = recommended = None
    if key_ok and isinstance(key, dict):  # shape 1: the verdict is in key
        result = key.get("result")
        details = key.get("details") if isinstance(key.get("details"), dict) else {}
        code, message = details.get("errorCode"), details.get("errorMessage")
        if not result:
            problems.append("the answer's key carries no result")
    elif isinstance(key_raw, str) and key_raw.strip().endswith("StatusInfo"):  # shape 2: read the records
        if records:
            result, code, message, recommended = _status_from_record(records[0])
        if not result:
            problems.append("the answer carries no status in its records")
    else:
        problems.append("the answer's key is not readable" + (f": {str(key_raw)[:80]!r}" if key_raw else ""))

    # what the record says complements the key (recommended action, a code the key left out)
    rec_code = rec_reason = None
    if records:
        _, rec_code, rec_reason, rec_recommended = _status_from_record(records[0])
        recommended = recommended or rec_recommended
    code = code or rec_code
    message = message or rec_reason

    role, role_source, assigned = _role_from(records)
    first = records[0] if records else {}
    verdict = Verdict(
        result="Unknown", outcome="unknown", error_code=code or None, error_message=message or None,
        recommended=recommended or None, action=first.get("action"), role=role, role_source=role_source,
        assigned=assigned,
        modified=[m for r in records for m in (r.get("modifiedProperties") or []) if isinstance(m, dict)],
        steps=[s for r in records for s in (r.get("provisioningSteps") or []) if isinstance(s, dict)],
        problems=problems,
    )
    r = _norm(result)
    if r == "success":
        verdict.result, verdict.outcome = "Success", "provisioned"
    elif r == "skipped":
        verdict.result = "Skipped"
        c = _norm(code)
        if c in IN_SYNC_CODES:
            verdict.outcome = "in_sync"
        elif c in NOT_ASSIGNED_CODES or "entitled" in c or "scope" in c or "assign" in c:
            verdict.outcome = "not_assigned"
        else:
            verdict.outcome = "failed"  # a skip we do not know is not a success
    elif r in ("failure", "failed", "error"):
        verdict.result, verdict.outcome = "Failure", "failed"
    else:
        if result:
            verdict.problems.append(f"unknown result {result!r}")
    if verdict.outcome == "provisioned" and _norm(verdict.action) in DISABLING_ACTIONS:
        verdict.outcome = "disabled"  # Entra succeeded in taking the user's access away: not assigned any more
    if verdict.ok and verdict.role is None and assigned:  # nothing sent (in sync), or no target attribute shown
        verdict.role, verdict.role_source = _role_value(assigned), "assignment"
    return verdict


def _role_value(label: str) -> str:
    """An appRoleAssignments label as a Natoma role value ("Admin" -> "admin"; values pass through)."""
    parts = [p.strip() for p in label.split(",") if p.strip()]
    by_display = {d: v for v, d in DISPLAY_NAME.items()}
    return ", ".join(p if p in ROLE_VALUES else by_display.get(p, p) for p in parts)


def fix_for(v: Verdict) -> str | None:
    if v.outcome in ("not_assigned", "disabled"):
        return FIX_NOT_ASSIGNED
    if _norm(v.error_code) == "multiplegrantsnotsupported":
        return FIX_MULTIPLE_GRANTS
    if v.outcome == "failed":
        return v.recommended or "read the provisioning logs: natoma-entra logs --errors --user <user>"
    if v.outcome == "unknown":
        return ("the answer could not be read as a verdict: check the user in Natoma and the provisioning logs "
                "(natoma-entra logs --user <user>)")
    return None


def role_values(role: str | None) -> list[str]:
    return [p.strip() for p in (role or "").split(",") if p.strip()]


# -- talking to Graph -------------------------------------------------------------------------------------------------

def request_body(rule_id: str, user_id: str) -> dict:
    return {"parameters": [{"ruleId": rule_id, "subjects": [{"objectId": user_id, "objectTypeName": "User"}]}]}


async def post_on_demand(session: Session, path: str, body: dict) -> dict | None:
    """POST provisionOnDemand; on 429 wait Retry-After (or back off) and try again, MAX_ATTEMPTS in all."""
    sleep = session.command_options.get("sleep") or asyncio.sleep
    attempts = int(session.command_options.get("max_attempts") or MAX_ATTEMPTS)
    for attempt in range(1, attempts + 1):
        try:
            return await session.graph.post(path, body, retry=False)
        except GraphError as e:
            if e.status != 429:
                raise
            wait = e.retry_after if e.retry_after is not None else BACKOFF[min(attempt - 1, len(BACKOFF) - 1)]
            if attempt >= attempts or wait > MAX_WAIT:
                e.fix = (f"provision on demand allows 5 requests per 10 seconds; it was still throttled after "
                         f"{attempt} attempt(s)" + (f" (Retry-After {wait:g} s)" if e.retry_after is not None else "")
                         + ": wait a minute and run the command again")
                raise
            session.progress(f"provision on demand is throttled (5 per 10 s): waiting {wait:g} s, then retrying "
                             f"({attempt + 1}/{attempts})")
            await sleep(max(wait, 0))
    return None  # not reached


# -- pacing: Graph allows 5 provisionOnDemand requests per 10 seconds per job ------------------------------------------

RATE_LIMIT, RATE_WINDOW = 5, 10.0  # Graph docs synchronization-synchronizationjob-provisionondemand.md (throttling)


class Pacer:
    """At most `limit` requests in any `window` seconds: wait() sleeps until the next one may go. Clock and sleep are
    injectable (tests and the sandbox run on simulated time)."""

    def __init__(self, limit: int = RATE_LIMIT, window: float = RATE_WINDOW, *, clock=None, sleep=None):
        import time

        self.limit, self.window = limit, window
        self.clock = clock or time.monotonic
        self.sleep = sleep or asyncio.sleep
        self.sent: list[float] = []

    def delay(self) -> float:
        now = self.clock()
        self.sent = [t for t in self.sent if now - t < self.window]
        return 0.0 if len(self.sent) < self.limit else self.window - (now - self.sent[0])

    async def wait(self) -> float:
        waited = 0.0
        while (d := self.delay()) > 0:
            await self.sleep(d)
            waited += d
        self.sent.append(self.clock())
        return waited


# -- plan: who would be provisioned, with which request (reads only) ---------------------------------------------------

@dataclass
class Request:
    user: str  # userPrincipalName (or object id)
    user_id: str
    body: dict


@dataclass
class ProvisionPlan:
    path: str  # .../jobs/{id}/provisionOnDemand
    rule_id: str
    requests: list[Request]
    warnings: list[str] = field(default_factory=list)


class PlanError(Exception):
    def __init__(self, result: StepResult):
        super().__init__(result.error)
        self.result = result


async def resolve_users(session: Session, refs: list[str], group: str | None) -> tuple[list[dict], list[str]]:
    """(users, warnings): the users named (UsageError for an unknown one), then the direct user members of `group`."""
    from ..graph.lookups import find_group
    from ..graph.odata import seg

    users = list(await session.graph.gather(*(find_user(session.graph, r) for r in refs)))
    warnings: list[str] = []
    if group:
        g = await find_group(session.graph, group)
        members = await session.graph.list(f"/groups/{seg(g['id'])}/members",
                                           {"$select": "id,displayName,userPrincipalName", "$top": "999"})
        nested = [m for m in members if m.get("@odata.type") == "#microsoft.graph.group"]
        users += [m for m in members if m.get("@odata.type") in (None, "#microsoft.graph.user")]
        if nested:
            warnings.append(f"group {g.get('displayName')!r} has {len(nested)} nested group(s); their members are not "
                            "provisioned by Entra and are left out")
    seen: dict[str, dict] = {}
    for u in users:
        seen.setdefault(u["id"], u)
    return list(seen.values()), warnings


async def plan(session: Session, refs: list[str], group: str | None = None) -> ProvisionPlan:
    """The requests provisioning would send. Raises PlanError (a failed StepResult) when there is no job or rule."""
    from .mapping import SchemaError, locate

    users, warnings = await resolve_users(session, refs, group)  # UsageError (exit 2) for an unknown user
    try:
        job = await read_job(session)
    except GraphError as e:
        raise PlanError(failed(STEP, e, what="reading the provisioning job")) from None
    if job is None:
        raise PlanError(StepResult(step=STEP, status="failed", error="the app has no provisioning job", fix=FIX_NO_JOB))
    app = await session.app()
    try:
        where = locate(await read_schema(session, job))
    except GraphError as e:
        raise PlanError(failed(STEP, e, what="reading the job's schema")) from None
    except SchemaError as e:
        raise PlanError(StepResult(step=STEP, status="failed", error=e.message, fix=e.fix)) from None
    rule_id = where.rule.get("id")
    if not rule_id:
        raise PlanError(StepResult(step=STEP, status="failed", error="the user rule in the job's schema has no id",
                                   fix="restore the default mappings (Provisioning -> Mappings), then run again"))
    if not users:
        warnings.append(f"group {group!r} has no user members: nobody to provision")
    return ProvisionPlan(f"{job_path(app.sp_id, job['id'])}/provisionOnDemand", rule_id,
                         [Request(u.get("userPrincipalName") or u["id"], u["id"], request_body(rule_id, u["id"]))
                          for u in users], warnings)


def planned(p: ProvisionPlan) -> list[StepResult]:
    """The plan as results, one per user (nothing sent)."""
    return [StepResult(step=STEP, status="planned", warnings=list(p.warnings) if i == 0 else [],
                       info={"user": r.user, "userId": r.user_id, "ruleId": p.rule_id, "result": None},
                       changes=[Change(action="update", target=f"provision on demand: {r.user}",
                                       detail={"why": "nothing sent", "body": r.body})])
            for i, r in enumerate(p.requests)]


# -- apply: send each request, paced, and read each verdict ------------------------------------------------------------

async def apply(session: Session, p: ProvisionPlan, *, pacer: Pacer | None = None,
                on_progress: Callable[[int, int, str], None] | None = None) -> list[StepResult]:
    """Provision every planned user, at most 5 requests per 10 s; one result per user, in order."""
    verify_too = bool(session.command_options.get("verify"))
    if verify_too:
        session.scim_token()  # no token for --verify is bad input: say so before anything is provisioned
    pacer = pacer or Pacer(clock=session.command_options.get("clock"), sleep=session.command_options.get("sleep"))
    results: list[StepResult] = []
    total = len(p.requests)
    for n, req in enumerate(p.requests):
        await pacer.wait()
        if on_progress:
            on_progress(n, total, req.user)
        result = await provision_one(session, p, req)
        if n == 0:
            result.warnings[:0] = p.warnings
        results.append(result)
    if on_progress:
        on_progress(total, total, "")
    return results


async def provision_one(session: Session, p: ProvisionPlan, req: Request) -> StepResult:
    upn = req.user
    info: dict[str, Any] = {"user": upn, "userId": req.user_id, "result": None, "errorCode": None, "role": None,
                            "natoma": None, "ruleId": p.rule_id}
    if len(p.requests) == 1:
        session.progress(f"provisioning {upn} on demand ...")
    try:
        answer = await post_on_demand(session, p.path, req.body)
    except GraphError as e:
        result = failed(STEP, e, what=f"provision on demand ({upn})")
        result.info = info
        return result
    verdict = parse_response(answer)
    result = judge(upn, info, verdict)
    if session.command_options.get("verify"):
        await verify(session, result, upn, verdict)
    return result


def judge(upn: str, info: dict[str, Any], verdict: Verdict) -> StepResult:
    """The result of one provisionOnDemand answer (pure)."""
    info.update({"result": verdict.result, "outcome": verdict.outcome, "errorCode": verdict.error_code,
                 "role": verdict.role, "roleSource": verdict.role_source, "assigned": verdict.assigned,
                 "action": verdict.action, "modifiedProperties": verdict.modified, "provisioningSteps": verdict.steps})
    if verdict.error_message:
        info["reason"] = verdict.error_message
    warnings: list[str] = []
    if verdict.problems:
        info["problems"] = verdict.problems
    if verdict.ok and not verdict.role:
        return StepResult(step=STEP, status="failed", info=info, warnings=warnings,
                          error=f"{upn} was provisioned without a role", fix=FIX_NO_ROLE)
    if verdict.ok:
        odd = [r for r in role_values(verdict.role) if r not in ROLE_VALUES]
        if odd:
            warnings.append(f"{upn} has role {', '.join(odd)}, which is not a Natoma role ({', '.join(ROLE_VALUES)}): "
                            "check the group's assignment (natoma-entra assign)")
        if verdict.outcome == "provisioned":
            action = "create" if _norm(verdict.action) == "create" else "update"
            change = Change(action=action, target=f"Natoma user {upn}", detail={"role": verdict.role, "why": f"role {verdict.role}"})
            return StepResult(step=STEP, status="changed", changes=[change], info=info, warnings=warnings)
        change = Change(action="none", target=f"Natoma user {upn}", detail={"role": verdict.role, "why": "already in sync"})
        return StepResult(step=STEP, status="unchanged", changes=[change], info=info, warnings=warnings)
    error = {
        "not_assigned": f"{upn} was skipped: not assigned to the app"
                        + (f" ({verdict.error_code})" if verdict.error_code else ""),
        "failed": f"provisioning {upn} failed" + (f": {verdict.error_code}" if verdict.error_code else "")
                  + (f" ({verdict.result})" if verdict.result == "Skipped" else ""),
        "disabled": f"{upn} is not assigned to the app: Entra took the user's access away in Natoma "
                    f"(action {verdict.action})",
        "unknown": f"the answer for {upn} could not be read as a verdict"
                   + (f" ({'; '.join(verdict.problems)})" if verdict.problems else ""),
    }[verdict.outcome]
    return StepResult(step=STEP, status="failed", info=info, warnings=warnings, error=error, fix=fix_for(verdict))


# -- --verify: read the user back from Natoma's SCIM endpoint ----------------------------------------------------------

async def scim_url(session: Session) -> str | None:
    url = session.config.scim.url
    if url:
        return url
    from .credentials import read_secrets, readable

    try:
        return readable((await read_secrets(session)).get("BaseAddress"))
    except GraphError:
        return None


async def verify(session: Session, result: StepResult, upn: str, verdict: Verdict) -> None:
    from ..natoma_scim import ScimReadError, read_user_roles

    url = await scim_url(session)
    if not url:
        result.info["natoma"] = {"checked": False, "error": "no SCIM URL"}
        result.status, result.error = "failed", result.error or "--verify: no SCIM URL to read the user back from"
        result.fix = result.fix or "set url in the [scim] table of the config file (or pass --scim-url)"
        return
    token = session.scim_token()
    factory = session.scim_http
    session.progress(f"reading {upn} back from Natoma ({url}) ...")
    try:
        found = await asyncio.to_thread(read_user_roles, url, token, upn, factory)
    except ScimReadError as e:
        result.info["natoma"] = {"checked": False, "url": url, "error": e.message}
        result.status = "failed"
        result.error = result.error or f"--verify: {e.message}"
        result.fix = result.fix or e.fix
        return
    expected = role_values(verdict.role) if verdict.ok else []
    natoma: dict[str, Any] = {"checked": True, "url": url, "found": found is not None}
    if found is None:
        natoma.update({"roles": [], "matches": not verdict.ok})
        if verdict.ok:
            mismatch = f"--verify: Natoma has no user {upn} although Entra reported {verdict.outcome}"
        else:
            mismatch = None
    else:
        natoma.update({"id": found.get("id"), "active": found.get("active"), "roles": found.get("roles", []),
                       "primary": found.get("primary")})
        have = found.get("roles") or []
        if verdict.ok:
            if len(expected) == 1:
                ok = (found.get("primary") or (have[0] if len(have) == 1 else None)) == expected[0] and \
                    set(have) <= set(expected)
            else:
                ok = set(have) == set(expected)
            natoma["matches"] = ok
            mismatch = None if ok else (f"--verify: Natoma holds roles {have or '(none)'} for {upn}, Entra decided "
                                        f"{', '.join(expected)}")
        else:
            natoma["matches"] = None  # nothing was decided to compare with
            mismatch = None
    result.info["natoma"] = natoma
    if mismatch:
        result.status = "failed"
        result.error = mismatch
        result.fix = ("provision again, and if Natoma still differs, read the provisioning logs "
                      "(natoma-entra logs --user " + upn + ")")
