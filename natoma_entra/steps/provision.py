"""Step 5: provision users on demand and show the role Natoma received (guide step 5).

A step like the others (steps/base.py): read finds the users, the job and its user rule; plan makes one
provisionOnDemand operation per user; apply sends them, paced by the executor to Graph's limit, and reads each
verdict (and with --verify, the user as Natoma holds it).

Graph facts (Microsoft Graph docs synchronization-synchronizationjob-provisionondemand.md,
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
- Rate limit: 5 requests per 10 seconds (429 with Retry-After). The executor paces the requests to that (Pacer), so a
  group is provisioned without 429s; a 429 that still comes is waited out like every throttled request
  (graph/retry.py: after Retry-After, a bounded number of times, within --timeout), and the last error says why.
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from ..graph.errors import GraphError
from ..graph.lookups import App, find_user
from ..graph.odata import seg
from ..graph.retry import MAX_RETRIES, Policy
from ..json_values import obj
from ..natoma_roles import DISPLAY_NAME, ROLE_VALUES
from ..pacing import RATE_LIMIT, RATE_WINDOW, OutOfTime, enough, per_request
from ..results import Change, StepResult
from ..session import Session
from .base import JSON, Applied, ApplyContext, Desired, Facts, Operation, Plan, Step
from .common import failed
from .job import job_path, read_job, read_schema

STEP = "provision"
STATUS_INFO_KEY = "Microsoft.Identity.Health.CPP.Common.DataContracts.SyncFabric.StatusInfo"

MAX_ATTEMPTS = MAX_RETRIES + 1  # a throttled provisionOnDemand: attempts in all (graph/retry.py)

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
    info = obj(rec.get("statusInfo"))
    status = info.get("status")
    code, reason, action = info.get("errorCode"), info.get("reason"), info.get("recommendedAction")
    err = obj(info.get("errorInformation"))
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
            details = obj(s.get("details"))
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
        details = obj(key.get("details"))
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


# Sent again after a 503/504 or a lost answer: provisioning one user converges (a second request finds the user in
# sync), so it is safe to repeat.
ON_DEMAND = Policy(what="provision on demand", repeatable=True)


async def post_on_demand(session: Session, path: str, body: dict) -> Any:
    """POST provisionOnDemand; throttling is waited out by the Graph client (graph/retry.py)."""
    try:
        return await session.graph.post(path, body, policy=ON_DEMAND)
    except GraphError as e:
        if e.status == 429:
            e.fix = (f"provision on demand allows 5 requests per 10 seconds; it was still throttled after at most "
                     f"{MAX_ATTEMPTS} attempt(s)"
                     + (f" (Retry-After {e.retry_after:g} s)" if e.retry_after is not None else "")
                     + ": wait a minute and run the command again")
        raise


# -- the step: read who, plan one request each, apply them paced ------------------------------------------------------

@dataclass(frozen=True)
class ProvisionInputs:
    """What `provision` was asked: the users named, the group whose direct members to add, and --verify."""

    users: tuple[str, ...] = ()
    group: str | None = None
    verify: bool = False


class ProvisionOnDemand(Operation):
    """POST .../jobs/{id}/provisionOnDemand for one user with the job's user rule (5 per 10 s: paced by the executor)."""

    kind: Literal["provision-on-demand"] = "provision-on-demand"
    sp_id: str
    job_id: str
    rule_id: str
    user: str  # userPrincipalName (or object id): how the results name the user
    user_id: str
    verify: bool = False  # then read the user back from Natoma's SCIM endpoint

    @property
    def method(self) -> str:
        return "POST"

    @property
    def path(self) -> str:
        return f"{job_path(self.sp_id, self.job_id)}/provisionOnDemand"

    @property
    def body(self) -> JSON:
        return request_body(self.rule_id, self.user_id)


@dataclass
class Current:
    app: App
    users: list[dict]
    warnings: list[str]
    job: dict | None = None
    rule_id: str | None = None
    problem: StepResult | None = None  # why nothing can be provisioned (no job, no user rule, an unreadable schema)


async def resolve_users(session: Session, refs: tuple[str, ...] | list[str],
                        group: str | None) -> tuple[list[dict], list[str]]:
    """(users, warnings): the users named (UsageError for an unknown one), then the direct user members of `group`."""
    from ..graph.lookups import find_group

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


class ProvisionStep(Step[Current, ProvisionOnDemand, ProvisionInputs]):
    name = STEP
    reading = "reading the provisioning job"

    async def read(self, session: Session, desired: Desired[ProvisionInputs]) -> Current:
        from .mapping import SchemaError, locate

        opts = desired.options
        app = await session.app()
        users, warnings = await resolve_users(session, opts.users, opts.group)  # UsageError for an unknown user
        if not users:
            warnings.append(f"group {opts.group!r} has no user members: nobody to provision")
        current = Current(app=app, users=users, warnings=warnings)
        try:
            current.job = await read_job(session)
        except GraphError as e:
            current.problem = failed(STEP, e, what="reading the provisioning job")
            return current
        if current.job is None:
            current.problem = StepResult(step=STEP, status="failed", error="the app has no provisioning job",
                                         fix=FIX_NO_JOB)
            return current
        try:
            where = locate(await read_schema(session, current.job))
        except GraphError as e:
            current.problem = failed(STEP, e, what="reading the job's schema")
            return current
        except SchemaError as e:
            current.problem = StepResult(step=STEP, status="failed", error=e.message, fix=e.fix)
            return current
        current.rule_id = where.rule.get("id")
        if not current.rule_id:
            current.problem = StepResult(step=STEP, status="failed", error="the user rule in the job's schema has no id",
                                         fix="restore the default mappings (Provisioning -> Mappings), then run again")
        return current

    def plan(self, current: Current, desired: Desired[ProvisionInputs], facts: Facts) -> Plan[ProvisionOnDemand]:
        if current.problem is not None:
            return Plan(step=STEP, error=current.problem.error, fix=current.problem.fix,
                        warnings=list(current.warnings), facts=facts)
        assert current.job is not None and current.rule_id is not None
        ops = [ProvisionOnDemand(sp_id=current.app.sp_id, job_id=current.job["id"], rule_id=current.rule_id,
                                 user=u.get("userPrincipalName") or u["id"], user_id=u["id"],
                                 verify=desired.options.verify)
               for u in current.users]
        changes = [Change(action="update", target=f"provision on demand: {op.user}",
                          detail={"why": "nothing sent", "body": op.body}) for op in ops]
        return Plan(step=STEP, changes=changes, operations=ops, warnings=list(current.warnings),
                    info={"ruleId": current.rule_id}, facts=facts)

    def planned(self, plan: Plan[ProvisionOnDemand]) -> list[StepResult]:
        """One result per user (nothing sent)."""
        if plan.blocked:
            return [plan.result("failed")]
        return [StepResult(step=STEP, status="planned", warnings=list(plan.warnings) if i == 0 else [],
                           info={"user": op.user, "userId": op.user_id, "ruleId": op.rule_id, "result": None},
                           changes=[plan.changes[i]])
                for i, op in enumerate(plan.operations)]

    def done(self, plan: Plan[ProvisionOnDemand], facts: Facts) -> Applied:
        return Applied([], facts)  # nobody to provision: the warning says why

    async def apply(self, context: ApplyContext, plan: Plan[ProvisionOnDemand]) -> Applied:
        """Provision every planned user, paced by the executor; one result per user, in order."""
        session = context.session
        if any(op.verify for op in plan.operations):
            session.scim_token()  # no token for --verify is bad input: say so before anything is provisioned
        results: list[StepResult] = []
        total = len(plan.operations)
        reads = session.graph.deadline - session.graph.remaining()  # what a run spends before its first request here
        for n, op in enumerate(plan.operations):
            try:
                await context.pace(op)
            except OutOfTime as e:  # its turn comes after the run's budget: it and the rest are not sent
                results += not_sent(session, plan.operations[n:], str(e), sent=results, reads=reads)
                results[0].warnings[:0] = [] if n else plan.warnings
                break
            context.on_progress(n, total, op.user)
            result = await provision_one(session, op, single=total == 1)
            if n == 0:
                result.warnings[:0] = plan.warnings
            results.append(result)
            if result.info.get("outcome") == OUT_OF_TIME:  # the budget ended while Graph answered
                results += not_sent(session, plan.operations[n + 1:], "the budget had ended", sent=results,
                                    reads=reads)
                break
        context.on_progress(total, total, "")
        return Applied(results, context.facts)


OUT_OF_TIME, NOT_SENT = "out_of_time", "not_sent"  # outcomes of a run cut short by its budget (not Graph's verdicts)


def not_sent(session: Session, ops: list[ProvisionOnDemand], why: str, *, sent: list[StepResult],
             reads: float = 0.0) -> list[StepResult]:
    """The users whose turn never came within the run's budget: one failed result each, and the command that sends
    only them (with the user whose answer the budget cut short, if any: provisioning again is safe). A run of the
    same command would send every user again."""
    graph = session.graph
    again = [str(r.info.get("user")) for r in sent if r.info.get("outcome") == OUT_OF_TIME] + [op.user for op in ops]
    timeout = enough(["provision-on-demand"] * len(again), per_request=per_request(graph), spent=reads)
    fix = (f"send only the {len(again)} user(s) not provisioned, with the same global options: natoma-entra "
           f"--timeout {timeout} provision {' '.join(again)}")
    return [StepResult(step=STEP, status="failed", fix=fix,
                       error=(f"{op.user} was not sent: the run's time budget of {graph.deadline:g} s (--timeout) "
                              f"ended before Graph's rate ({RATE_LIMIT} per {RATE_WINDOW:g} s) let it go ({why})"),
                       info={"user": op.user, "userId": op.user_id, "ruleId": op.rule_id, "result": None,
                             "outcome": NOT_SENT})
            for op in ops]


async def provision_one(session: Session, op: ProvisionOnDemand, *, single: bool = True) -> StepResult:
    upn = op.user
    info: dict[str, Any] = {"user": upn, "userId": op.user_id, "result": None, "errorCode": None, "role": None,
                            "natoma": None, "ruleId": op.rule_id}
    if single:
        session.progress(f"provisioning {upn} on demand ...")
    try:
        answer = await post_on_demand(session, op.path, op.body)
    except GraphError as e:
        result = failed(STEP, e, what=f"provision on demand ({upn})")
        result.info = info
        if e.code == "Timeout" and session.graph.remaining() <= 0:
            # sent, perhaps applied: provisioning converges, so it is sent again with the users not sent
            info["outcome"] = OUT_OF_TIME
            result.error = (f"provision on demand ({upn}): the run's time budget of {session.graph.deadline:g} s "
                            "(--timeout) ran out before Graph answered: the user may or may not have been provisioned")
            result.fix = "provision the user again (a user already provisioned is found in sync)"
        return result
    verdict = parse_response(answer)
    result = judge(upn, info, verdict)
    if op.verify:
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
            action: Literal["create", "update"] = "create" if _norm(verdict.action) == "create" else "update"
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
    """Natoma's SCIM URL: the configured one, else the one the job has saved (when it reads back in clear)."""
    url = session.config.scim.url
    if url:
        return url
    from .credentials import read_secrets, readable

    try:
        return readable((await read_secrets(session)).values.get("BaseAddress"))
    except GraphError:
        return None


async def verify(session: Session, result: StepResult, upn: str, verdict: Verdict) -> None:
    from ..natoma_scim import ScimReadError, user_roles

    url = await scim_url(session)
    if not url:
        result.info["natoma"] = {"checked": False, "error": "no SCIM URL"}
        result.status, result.error = "failed", result.error or "--verify: no SCIM URL to read the user back from"
        result.fix = result.fix or "set url in the [scim] table of the config file (or pass --scim-url)"
        return
    token = session.scim_token()
    factory = session.scim
    session.progress(f"reading {upn} back from Natoma ({url}) ...")
    try:
        found = await user_roles(session.graph, url, token, upn, factory)  # bounded by --timeout
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


PROVISION = ProvisionStep()
