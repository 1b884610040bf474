"""`audit`: does every user in Natoma hold the role their Entra assignments say, and nobody else? Read-only.

run() reads (audit/reads.py) and judges (audit/core.py, pure) and returns a Report with one "audit" step whose info
carries the mode, the counts and one entry per user; info["state"] is "drifted" when anything differs (exit 3 with
--exit-code), "in place" otherwise.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

from ..graph.errors import GraphError
from ..errors import UsageError
from ..results import Report, StepResult
from ..session import Session
from . import core
from .reads import MappingUnknown, job_mapping, read_natoma, read_scope

STEP = "audit"
PROGRESS_EVERY = 10.0  # seconds between progress lines


def _throttled(say, every: float = PROGRESS_EVERY, clock=time.monotonic):
    last = [clock()]

    def say_now(msg: str) -> None:
        now = clock()
        if now - last[0] >= every:
            last[0] = now
            say(msg)

    return say_now


async def run(session: Session) -> StepResult:
    from ..steps.assignments import read_assignments
    from ..steps.job import read_job, read_schema
    from ..steps.provision import FIX_NO_JOB, scim_url
    from ..scim_bounds import Bounds, ScimReadError, in_thread

    token = session.scim_token()  # no token is bad input: say so before reading anything
    url = await scim_url(session)
    if not url:
        raise UsageError("no SCIM URL to read Natoma's users from",
                         fix="set url in the [scim] table of the config file (or pass --scim-url)")
    app = await session.app()
    info: dict[str, Any] = {"scimUrl": url}
    try:
        job, assignments = await session.graph.gather(read_job(session), read_assignments(session))
        if job is None:
            return StepResult(step=STEP, status="failed", info=info, error="the app has no provisioning job",
                              fix=FIX_NO_JOB)
        mapping = job_mapping(await read_schema(session, job))
    except GraphError as e:
        from ..steps.common import failed

        return failed(STEP, e, what="reading the app's assignments and job")
    except MappingUnknown as e:
        return StepResult(step=STEP, status="failed", info=info, error=e.message, fix=e.fix)
    except Exception as e:  # noqa: BLE001 - a schema the mapping step cannot read (SchemaError)
        if hasattr(e, "fix") and hasattr(e, "message"):
            return StepResult(step=STEP, status="failed", info=info, error=e.message, fix=e.fix)
        raise
    info.update({"mode": "multi-role" if mapping.multi_role else "single-role", "roleFunction": mapping.role_function,
                 "matching": f"{mapping.source} -> {mapping.target}"})

    roles = core.Roles(app.service_principal.get("appRoles") or [])
    groups, direct = core.group_masks(assignments or [], roles, app.sp_id)
    scope = core.Scope()
    say = _throttled(session.progress)
    session.progress(f"reading the members of {len(groups)} assigned group(s) and Natoma's users ({url}) ...")
    factory = session.scim
    # Natoma's answers are bounded as Graph's: the same --timeout for the whole run (scim_bounds.py)
    bounds = Bounds.of(session.graph)
    natoma_read = asyncio.ensure_future(in_thread(
        lambda: read_natoma(url, token, factory, bounds=bounds,
                            on_page=lambda n, total: say(f"Natoma: {n:,} of {total:,} users read")),
        bounds, urlsplit(url).hostname or url))
    try:
        memberships = await read_scope(session, scope, groups, direct, mapping.source,
                                       on_progress=lambda g, m: say(f"Entra: {g:,} of {len(groups):,} groups read "
                                                                    f"({m:,} memberships)"))
    except GraphError as e:
        from ..steps.common import failed

        natoma_read.cancel()  # not waited for: its thread, told to stop, ends at its next chunk
        await asyncio.gather(natoma_read, return_exceptions=True)
        return failed(STEP, e, what="reading the members of the assigned groups")
    try:
        natoma = await natoma_read
    except ScimReadError as e:
        return StepResult(step=STEP, status="failed", info=info, error=e.message, fix=e.fix)

    from ..listing import natural_key

    findings = list(core.compare(scope, roles, natoma, multi_role=mapping.multi_role))
    counts = core.count(findings)
    duplicates = core.case_duplicates(natoma)
    differs = sum(counts[v] for v in core.DIFFERS) + len(duplicates)
    order = {v: i for i, v in enumerate(core.VERDICTS)}
    findings.sort(key=lambda f: (f.verdict == core.OK, order[f.verdict], natural_key(f.user)))  # user 2 < user 10
    info.update({
        "state": "drifted" if differs else "in place",
        "counts": dict(counts),
        "inScope": len(scope),
        "inNatoma": len(natoma),
        "memberships": memberships,
        "assignedGroups": len(groups),
        "directUsers": len({u for u, _ in direct}),
        "nestedGroupsSkipped": len(scope.nested_groups),
        "differences": differs,
        "users": [f.as_json() for f in findings],
    })
    warnings = list(mapping.warnings)
    if duplicates:
        info["duplicateUserNames"] = duplicates
        shown = "; ".join(", ".join(d) for d in duplicates[:5]) + ("; ..." if len(duplicates) > 5 else "")
        warnings.append(f"Natoma holds {len(duplicates)} userName(s) more than once, differing only in case ({shown}): "
                        "SCIM compares userNames case-insensitively, so Entra updates one of them and the other is "
                        "left as it is; remove the duplicates in Natoma's admin console")
    if scope.nested_groups:
        warnings.append(f"{len(scope.nested_groups)} nested group(s) in assigned groups: their members are not "
                        "provisioned (Entra does not follow nested groups); assign those groups directly")
    return StepResult(step=STEP, status="unchanged", info=info, warnings=warnings)


async def report(session: Session) -> Report:
    rep = Report(command="audit")
    rep.app = (await session.app()).summary()
    rep.add(await run(session))
    return rep
