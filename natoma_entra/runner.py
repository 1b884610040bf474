"""Runs a list of steps: every read first (together), then every plan (pure), then, only when the run is not a dry
run and nothing is blocked, each step's apply in order. The one place that decides whether anything is written.

Reads go out together and before any write, so bad input (an unknown group, a rejected SCIM token, a schema without
a user mapping) stops the run with the tenant as it was. What a later step needs from an earlier plan (the role ids,
the job about to be created, the credentials about to be saved) is passed on as typed Facts.
"""
from __future__ import annotations

import asyncio
from types import ModuleType
from typing import Callable

from .graph.errors import GraphError, UsageError
from .results import Report, StepResult
from .steps import assignments, credentials, mapping, roles, start
from .steps.base import Desired, Facts, Plan
from .steps.common import failed

# The setup steps, in the guide's order: setup runs them, status reads and plans them.
SETUP_STEPS: tuple[ModuleType, ...] = (roles, assignments, mapping, credentials, start)

READS = {roles.NAME: "reading the app roles", assignments.NAME: "reading the app's assignments",
         mapping.NAME: "reading the provisioning job", credentials.NAME: "reading the saved credentials",
         start.NAME: "reading the provisioning job"}


async def read_and_plan(session, steps, desired: Desired) -> list[Plan]:
    """Every step's read (together), then its plan, in order, each seeing the facts of the plans before it."""
    async def read(step):
        try:
            return await step.read(session)
        except GraphError as e:
            return failed(step.NAME, e, what=READS.get(step.NAME, f"reading for {step.NAME}"))

    currents = await asyncio.gather(*(read(s) for s in steps))
    plans: list[Plan] = []
    facts = Facts()
    for step, current in zip(steps, currents):
        if isinstance(current, StepResult):  # its read failed
            plan = Plan(step=step.NAME, error=current.error, fix=current.fix)
        else:
            plan = step.plan(current, desired, facts)
        facts = facts.but(**plan.provides)
        plans.append(plan)
    return plans


def planned_result(plan: Plan) -> StepResult:
    if plan.blocked:
        return plan.result("failed")
    return plan.result("planned" if plan.pending else "unchanged")


async def run(session, command: str, steps, desired: Desired, *, dry_run: bool,
              on_step: Callable[[str], None] = lambda name: None) -> Report:
    """One command's steps. A dry run (and `status`) stops after the plans; otherwise apply in order, and a failure
    stops the run (the steps after it are skipped: running the command again continues from where the tenant is)."""
    if desired.options.create_app:  # --create-app: the app step first (steps/app.py), then these against its app
        from .steps import app as app_step

        return await app_step.run_first(session, command, steps, desired, dry_run=dry_run, on_step=on_step,
                                        run_rest=run)
    report = Report(command=command, dry_run=dry_run)
    on_step("reading")
    report.app = (await session.app()).summary()
    plans = await read_and_plan(session, steps, desired)
    blocked = next((p for p in plans if p.blocked), None)
    if dry_run or blocked is not None:
        for p in plans:
            report.add(planned_result(p) if dry_run or p is blocked else
                       p.result("skipped", info={**p.info, "why": f"{blocked.step} cannot be done: nothing written"}))
        return report
    needs = next((p for p in plans if p.needs and p.operations and p.needs_input), None)
    if needs is not None:
        raise UsageError(needs.needs, fix=needs.needs_fix)
    unmet = next((p for p in plans if p.needs and p.operations), None)
    if unmet is not None:  # nothing is written: the run would stop there anyway
        for p in plans:
            report.add(p.result("failed", error=p.needs, fix=p.needs_fix) if p is unmet else
                       p.result("skipped", info={**p.info, "why": f"{unmet.step} cannot be done: nothing written"}))
        return report
    facts = Facts()
    for i, (step, plan) in enumerate(zip(steps, plans)):
        if not plan.operations:
            result, provided = plan.result("unchanged" if not plan.pending else "changed"), plan.provides
        else:
            on_step(step.NAME)  # the CLI names it when the run is interrupted
            try:
                result, provided = await step.apply(session, plan, facts)
            except GraphError as e:
                result, provided = failed(step.NAME, e, plan.changes), {}
        facts = facts.but(**provided)
        report.add(result)
        if result.status == "failed":
            for later in plans[i + 1:]:
                report.steps.append(StepResult(step=later.step, status="skipped", info={"why": f"{step.NAME} failed"}))
            break
    return report


async def status(session, steps, desired: Desired) -> Report:
    """Read and plan every step, write nothing: each step's state (in place / drifted / missing / failed)."""
    report = Report(command="status", dry_run=False)
    report.app = (await session.app()).summary()
    for plan in await read_and_plan(session, steps, desired):
        result = planned_result(plan)
        result.info["state"] = plan.status_state()
        report.add(result)
    report.ok = all(s.status != "failed" for s in report.steps)
    return report
