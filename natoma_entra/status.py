"""`status`: each step's state (in place / drifted / missing) without writing anything.

Every step's own plan decides, run as a dry run: nothing planned means in place; only creations planned means missing;
anything else planned (updates, deletions) means drifted. So status and setup can never disagree.
"""
from __future__ import annotations

from .results import Report, StepResult

IN_PLACE, DRIFTED, MISSING, FAILED = "in place", "drifted", "missing", "failed"


def state_of(result: StepResult) -> str:
    if result.status == "failed":
        return FAILED
    if result.status == "skipped":
        return MISSING
    if result.info.get("state") in (DRIFTED, MISSING):  # a step may know better (e.g. a quarantined job)
        return result.info["state"]
    pending = result.pending
    if not pending:
        return IN_PLACE
    return MISSING if all(c.action == "create" for c in pending) else DRIFTED


async def status(session, steps) -> Report:
    """Run `steps` as a dry run in one session; the report's steps carry info["state"]."""
    session.dry_run = True
    report = Report(command="status", dry_run=False)
    report.app = (await session.app()).summary()
    for step in steps:
        result = await step(session)
        result.info["state"] = state_of(result)
        report.add(result)
    report.ok = all(s.status != "failed" for s in report.steps)
    return report
