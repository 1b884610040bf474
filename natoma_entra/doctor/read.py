"""`doctor`: read the tenant once (concurrently, each read made once), then run the pure checks (checks.py).

The reads reuse the steps' own readers and the session cache (session.app, read_assignments, read_job, read_schema,
read_secrets, the credentials step's connection test), so doctor and setup look at the tenant the same way. What only
doctor needs: the members of every assigned group (direct members; groups among them are nested groups, whose users
are read with transitiveMembers), the details of assigned groups that are not configured (securityEnabled), and the
one user of --user.

Scale: 100,000 users in 1,000 groups (2,000,000 memberships). Independent reads go out together through
graph.gather, at most CONCURRENCY at a time (a semaphore around each leaf read, never around a read that waits on
others). The members of assigned groups are read by the audit's walker (audit.reads.walk_members: pages of 999,
several groups at once) and each page is folded into compact Grants (checks.py) as it arrives: no member list is
kept. Assigned groups' details come 15 ids per request (`id in (...)`). Nothing is written: the connection test (validateCredentials with useSavedCredentials) is a
read-only POST, and it is made only when credentials are saved.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Awaitable

from ..audit.reads import walk_members
from .checks import ConfiguredGroup, DoctorState, Grants, ReadError, group_label, checks
from ..graph.errors import GraphError
from ..errors import NatomaEntraError
from ..graph.lookups import GROUP_FIELDS, find_group, find_user
from ..graph.odata import literal, seg
from ..results import Report, StepResult
from ..session import Session
from ..steps.assignments import read_assignments
from ..steps.credentials import has_token, read_secrets, test_saved
from ..steps.job import read_job, read_schema
from ..steps.roles import current_roles

CONCURRENCY = 8
MEMBER_FIELDS = "id,displayName,userPrincipalName"
IDS_PER_FILTER = 15  # Graph's limit on values in an `in (...)` filter clause
PAGE = "999"  # the largest page Graph serves for directory object collections


def _read_error(what: str, e: Exception) -> ReadError:
    if isinstance(e, GraphError):
        return ReadError(what, e.headline, e.fix)
    if isinstance(e, NatomaEntraError):
        return ReadError(what, e.message, e.fix)
    raise e


@dataclass(frozen=True)
class DoctorInputs:
    """What `doctor` was asked: one user to check too, and the mapping mode to expect (None: judge the one in place)."""

    user: str | None = None
    mode: str | None = None  # "single-role" | "multi-role" | None


async def read_state(session: Session, inputs: DoctorInputs = DoctorInputs(), *,
                     concurrency: int = CONCURRENCY) -> DoctorState:
    user = inputs.user
    state = DoctorState(user_ref=user, config_url=session.config.scim.url, config_scope=session.config.scim.scope,
                        wanted_mode=inputs.mode)
    graph = session.graph
    sem = asyncio.Semaphore(concurrency)

    async def limited(read: Awaitable[Any]) -> Any:
        async with sem:
            return await read

    async def attempt(key: str, what: str, read: Awaitable[Any], default: Any = None) -> Any:
        try:
            return await read
        except NatomaEntraError as e:
            state.errors[key] = _read_error(what, e)
            return default

    # 1. the app (application + service principal): nothing else can be read without it
    try:
        app = await session.app()
    except NatomaEntraError as e:
        state.errors["app"] = _read_error("the app", e)
        return state
    state.app = app.summary()
    state.app_roles = current_roles(app)
    state.sp_roles = list(app.service_principal.get("appRoles") or [])

    # 2. configured groups, assignments, job, secrets, the user: independent of each other
    pairs = session.config.group_pairs()

    async def configured(role: str, ref: str) -> ConfiguredGroup:
        c = ConfiguredGroup(role, ref)
        try:
            c.group = await limited(find_group(graph, ref))
        except NatomaEntraError as e:
            c.error = _read_error(f"group {ref!r}", e)
        return c

    results = await graph.gather(
        graph.gather(*(configured(r, ref) for r, ref in pairs)),
        attempt("assignments", "the app's assignments", limited(read_assignments(session))),
        attempt("job", "the provisioning job", limited(read_job(session))),
        attempt("secrets", "the saved credentials", limited(read_secrets(session))),
        attempt("user", f"user {user!r}", limited(find_user(graph, user))) if user else _none(),
        _token(session),
    )
    state.configured, state.assignments, state.job, secrets, state.user, state.token = results
    if secrets is not None:
        state.secrets, state.secrets_unreadable = secrets.values, not secrets.readable
    for c in state.configured:
        if c.group:
            state.groups[c.group["id"]] = c.group

    # 3. members of every assigned group (and the users of nested groups as soon as they show), the details of
    #    assigned groups not configured, the schema, the connection test, the user's groups
    assigned = list(dict.fromkeys(a["principalId"] for a in state.assignments or []
                                  if a.get("principalType") == "Group" and a.get("principalId")))
    assigned_set = set(assigned)
    nested_reads: dict[str, asyncio.Task] = {}

    async def nested_users(nid: str) -> None:
        members = await attempt(f"nested:{nid}", f"the members of nested group {nid}", limited(graph.list(
            f"/groups/{seg(nid)}/transitiveMembers", {"$select": MEMBER_FIELDS, "$top": PAGE})), [])
        state.nested[nid] = members

    def page(gid: str, members: list[dict]) -> None:  # one page of an assigned group, folded and dropped
        grants.fold(gid, members)
        for m in members:
            if m.get("@odata.type") != "#microsoft.graph.group" or not m.get("id"):
                continue
            state.groups.setdefault(m["id"], m)
            if m["id"] in assigned_set:
                continue  # an assigned group in its own right: its members are read as such
            state.nested_in.setdefault(m["id"], []).append(gid)
            if m["id"] not in nested_reads:
                nested_reads[m["id"]] = asyncio.ensure_future(nested_users(m["id"]))

    def members_failed(gid: str, e: GraphError) -> None:
        state.errors[f"members:{gid}"] = _read_error(f"the members of group {gid}", e)

    async def group_details(ids: list[str]) -> None:
        flt = "id in (" + ",".join(literal(i) for i in ids) + ")"
        found = await attempt(f"groups:{ids[0]}", "assigned groups", limited(graph.list(
            "/groups", {"$filter": flt, "$select": GROUP_FIELDS})), [])
        for g in found:
            state.groups[g["id"]] = g

    def label(gid: str, fallback: str | None = None) -> str:
        return group_label(state, gid, fallback)

    grants = state.grants = Grants(state.assignments or [], state.sp_roles, label)
    unknown = [g for g in assigned if g not in state.groups]
    reads: list[Awaitable[Any]] = [walk_members(session, assigned, MEMBER_FIELDS, page, on_error=members_failed)]
    reads += [group_details(unknown[i:i + IDS_PER_FILTER]) for i in range(0, len(unknown), IDS_PER_FILTER)]
    if state.job is not None:
        reads.append(_schema(session, state, attempt, limited))
    stored = state.secrets or {}
    if (stored.get("BaseAddress") and has_token(stored)) or state.secrets_unreadable:
        reads.append(_connection_test(session, state, limited))
    if state.user is not None:
        reads.append(_user_groups(session, state, attempt, limited))
    await graph.gather(*reads)
    if nested_reads:
        await graph.gather(*nested_reads.values())
    return state


async def _none() -> None:
    return None


async def _token(session: Session) -> Any:
    """The access token's claims (and ownership, when a command relies on it), for the permissions check."""
    from ..permissions import TABLE_ORDER
    from ..preflight import command_needs, read_token

    return await read_token(session, [n for c in TABLE_ORDER for n in command_needs(c)])


async def _schema(session: Session, state: DoctorState, attempt, limited) -> None:
    if state.job is not None:
        state.schema = await attempt("schema", "the provisioning schema", limited(read_schema(session, state.job)))


async def _connection_test(session: Session, state: DoctorState, limited) -> None:
    """The portal's Test Connection with the saved credentials: the credentials step's own test."""
    try:
        state.connection_test = await limited(test_saved(session, state.job))
    except NatomaEntraError as e:  # Graph refused for another reason than the credentials
        state.errors["connection"] = _read_error("the connection test", e)


async def _user_groups(session: Session, state: DoctorState, attempt, limited) -> None:
    uid = (state.user or {}).get("id") or ""
    state.user_groups = await attempt("user_groups", "the user's groups", limited(session.graph.list(
        f"/users/{seg(uid)}/memberOf", {"$select": "id,displayName", "$top": PAGE})), [])


# -- the report -------------------------------------------------------------------------------------------------

def to_step(check) -> StepResult:
    """A check as a StepResult: ok -> unchanged; warn -> unchanged with warnings; fail -> failed."""
    info: dict[str, Any] = {"verdict": check.verdict, "summary": check.summary, "details": list(check.details)}
    if check.data:
        info["data"] = check.data
    if check.verdict == "fail":
        return StepResult(step=check.name, status="failed", info=info, error=check.summary, fix=check.fix)
    warnings = [f"{check.name}: {check.summary}"] if check.verdict == "warn" else []
    return StepResult(step=check.name, status="unchanged", info=info, warnings=warnings, fix=check.fix)


async def run_doctor(session: Session, inputs: DoctorInputs = DoctorInputs()) -> Report:
    state = await read_state(session, inputs)
    report = Report(command="doctor", app=state.app or {})
    for c in checks(state):
        report.add(to_step(c))
    return report
