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
        return await _run_creating_app(session, command, steps, desired, dry_run=dry_run, on_step=on_step)
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
    from .preflight import before_writes

    await before_writes(session, plans, command=command)  # permissions, before the first write (exit 2 when short)
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


# -- setup --create-app, app create: the app step first, then the other steps against its app ---------------------

async def _run_creating_app(session, command: str, steps, desired: Desired, *, dry_run: bool, on_step) -> Report:
    """The app step before the others. An app that exists: the others run as usual. An app to create: a dry run
    plans it and skips the others (they read the app, which does not exist yet); a real run checks the configured
    groups first (bad input writes nothing), creates the app, then runs the others against it."""
    from dataclasses import replace

    from .steps import app as app_step
    from .steps.assignments import resolve_groups

    rest = Desired(desired.config, replace(desired.options, create_app=False))
    try:
        current = await app_step.read(session)
    except GraphError as e:
        report = Report(command=command, dry_run=dry_run)
        report.add(failed(app_step.NAME, e, what="looking up the app"))
        return report
    p = app_step.plan(current, desired, Facts())
    if current.app is not None:
        report = (await run(session, command, steps, rest, dry_run=dry_run, on_step=on_step) if steps else
                  Report(command=command, dry_run=dry_run, app=current.app.summary()))
        report.steps.insert(0, p.result("unchanged"))
        return report
    names = {getattr(s, "NAME", "") for s in steps}
    if "assign" in names:
        await resolve_groups(session)  # an unknown or ambiguous group stops the run before the app is made
    if "credentials" in names and not dry_run:
        # a new app needs credentials saved: no SCIM URL or no token at all stops the run before the app is made
        # (the token is tested against Graph once the app exists: it needs the app's service principal)
        from .steps.credentials import wanted_url

        wanted_url(session.config)
        session.scim_token()
    report = Report(command=command, dry_run=dry_run, app={"displayName": current.name, "appId": "(not created yet)"})
    if dry_run:
        report.add(planned_result(p))
        for s in steps:
            report.add(StepResult(step=s.NAME, status="skipped",
                                  info={"why": "planned once the app exists (a dry run does not create it)"}))
        return report
    from .preflight import before_writes, write_requests

    wanted = [s.NAME for s in steps] + (["create-groups"] if desired.options.create_groups else [])
    await before_writes(session, [p], command=command, also=write_requests(wanted))  # before the app is made
    on_step(app_step.NAME)
    result, _ = await app_step.apply(session, p, Facts())
    if result.status == "failed":
        report.add(result)
        for s in steps:
            report.steps.append(StepResult(step=s.NAME, status="skipped", info={"why": f"{app_step.NAME} failed"}))
        return report
    if not steps:
        report.app = (await session.app()).summary()
        report.add(result)
        return report
    report = await run(session, command, steps, rest, dry_run=False, on_step=on_step)
    report.steps.insert(0, result)
    return report
