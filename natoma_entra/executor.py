"""The executor: the one place that calls a step's apply, and the one place that decides whether anything is written.

A run of steps (steps/base.py) goes: every read first (together; a step that `reads_first`, the app, before the
others), then every plan in order (pure, each seeing the Facts of the plans before it), then, only when the run is
not a dry run, nothing is blocked, no input is missing and (where asked) the person confirmed, each step's apply in
order. Bad input found by a read (an unknown group, a rejected SCIM token, a schema without a user mapping) stops the
run with the tenant as it was. A failure stops the run; the steps after it are reported skipped, and running the
command again continues from where the tenant is.

--create-app: the app step plans its creation and the others plan against the app to be (session.planned_app), so
a dry run shows the whole run and a real one checks every input before the app is made. Once it exists, the
remaining steps are read and planned again against it, then applied.

A saved plan (`--plan-out FILE`, then `apply FILE`: plan_file.py) goes the same way: apply_saved reads and plans
again, refuses when what the plan was made from changed or the writes differ from the saved ones, and then applies
the saved operations through the same checks (inputs, permissions, the question before a delete).

The executor's policy for requests: operations under a rate limit (pacing.py) wait their turn before they go.
"""
from __future__ import annotations

import asyncio
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Sequence

from .errors import NatomaEntraError, UsageError
from .graph.errors import GraphError
from .graph.lookups import GroupNotFound
from .pacing import RATE_LIMITS, RATE_NOUNS, Pacer, at_least, enough, per_request
from .results import Report, StepResult
from .steps import assignments, credentials, mapping, roles, start
from .steps.base import AnyStep, ApplyContext, Applied, Desired, Facts, Operation, Plan
from .steps.common import failed

if TYPE_CHECKING:
    from .plan_file import SavedPlan
    from .session import Session

# The setup steps, in the guide's order: setup runs them, status reads and plans them.
SETUP_STEPS: tuple[AnyStep, ...] = (roles.STEP, assignments.STEP, mapping.STEP, credentials.STEP, start.STEP)

Confirm = Callable[[Report], Awaitable[bool]]
Progress = Callable[[int, int, str], None]


class NotConfirmed(NatomaEntraError):
    """The person said no at the question: nothing was written (exit 1)."""


async def _read(session: "Session", step: AnyStep, desired: Desired[Any],
                bad_input: list[UsageError] | None = None) -> Any:
    try:
        return await step.read(session, desired)
    except GraphError as e:
        return failed(step.name, e, what=step.reading)
    except GroupNotFound as e:
        if bad_input is None:
            raise
        # a dry run plans the other steps and shows this one blocked, naming every missing group (run() exits 2)
        bad_input.append(e)
        return StepResult(step=step.name, status="failed", error=e.message, fix=e.fix)


async def read_and_plan(session: "Session", steps: Sequence[AnyStep], desired: Desired[Any],
                        facts: Facts | None = None, *, bad_input: list[UsageError] | None = None) -> list[Plan[Any]]:
    """Every step's read (together, those that read first before), then its plan, in order, each seeing the facts of
    the plans before it. With `bad_input` (a dry run), a configured group that does not exist blocks its step's plan
    and is added there, instead of stopping every plan."""
    first = [s for s in steps if s.reads_first]
    currents: dict[int, Any] = {}
    for s in first:
        currents[id(s)] = await _read(session, s, desired, bad_input)
    if not first and all(s.needs_app for s in steps):
        await session.app()  # nothing else can be read without it: its error (unknown app, no access) comes first
    rest = [s for s in steps if not s.reads_first]
    # every read ends before an error is raised (bad input found by one read while others are in flight is one
    # line, not a trail of tasks cut short); the first error in step order wins
    results = await asyncio.gather(*(_read(session, s, desired, bad_input) for s in rest), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    for s, current in zip(rest, results):
        currents[id(s)] = current
    plans: list[Plan[Any]] = []
    facts = facts or Facts()
    for step in steps:
        current = currents[id(step)]
        if isinstance(current, StepResult):  # its read failed
            plan: Plan[Any] = Plan(step=step.name, error=current.error, fix=current.fix, facts=facts)
        else:
            plan = step.plan(current, desired, facts)
        facts = plan.facts
        plans.append(plan)
    return plans


def _skipped(plan: Plan[Any], why: str) -> StepResult:
    """A step not applied: what it would have changed is not shown as done (nothing was written)."""
    return StepResult(step=plan.step, status="skipped", warnings=list(plan.warnings), info={"why": why})


def pacing(session: "Session") -> Callable[[Operation], Awaitable[None]]:
    """The executor's pacing policy on the run's clock: each rate-limited kind of operation waits its turn, within the
    run's budget (a turn after it raises pacing.OutOfTime: the step says which operations were not sent)."""
    pacers = {kind: Pacer(limit, window, clock=session.clock.monotonic, sleep=session.clock.sleep,
                          left=session.graph.remaining)
              for kind, (limit, window) in RATE_LIMITS.items()}

    async def pace(op: Operation) -> None:
        pacer = pacers.get(op.kind)
        if pacer is not None:
            await pacer.wait()

    return pace


def _fits_the_budget(session: "Session", plans: Sequence[Plan[Any]]) -> None:
    """Operations under a rate limit (pacing.py) that cannot all go within what is left of the run's budget, even if
    Graph answered at once: bad input (exit 2, nothing sent), naming the --timeout that would do."""
    ops = [op for p in plans for op in p.operations if op.kind in RATE_LIMITS]
    need = at_least(op.kind for op in ops)
    left = session.graph.remaining()
    if not ops or need < left:
        return
    graph = session.graph
    spent = graph.deadline - left
    timeout = enough((op.kind for op in ops), per_request=per_request(graph), spent=spent)
    kind = ops[0].kind
    limit, window = RATE_LIMITS[kind]
    raise UsageError(f"{len(ops)} {RATE_NOUNS.get(kind, f'{kind} requests')} need at least {need:g} s at Graph's rate "
                     f"of {limit} per {window:g} s, and {max(left, 0):.0f} s are left of the run's {graph.deadline:g} s "
                     "(--timeout): nothing was sent", fix=f"pass --timeout {timeout} (or fewer at a time)")


def planned_report(command: str, app: dict[str, Any], steps: Sequence[AnyStep], plans: Sequence[Plan[Any]],
                   *, dry_run: bool = True) -> Report:
    report = Report(command=command, dry_run=dry_run, app=app)
    for step, plan in zip(steps, plans):
        for r in step.planned(plan):
            report.add(r)
    return report


async def run(session: "Session", command: str, steps: Sequence[AnyStep], desired: Desired[Any], *, dry_run: bool,
              confirm: Confirm | None = None, on_step: Callable[[str], None] = lambda name: None,
              on_progress: Progress = lambda done, total, label: None) -> Report:
    """One command's steps. A dry run stops after the plans; otherwise apply in order, and a failure stops the run."""
    on_step("reading")
    bad_input: list[UsageError] = []
    plans = await read_and_plan(session, steps, desired, bad_input=bad_input if dry_run else None)
    app = await _app_summary(session, plans)
    if dry_run:
        # a missing group is bad input: the dry run shows the whole plan, and exits 2 as the real run would (which
        # stops before its first write)
        report = planned_report(command, app, steps, plans)
        report.bad_input = bool(bad_input)
        report.warnings.extend(await _app_warnings(session))
        return report
    return await _checked_apply(session, command, list(steps), plans, desired, app, confirm, on_step, on_progress)


async def plan_for_saving(session: "Session", command: str, steps: Sequence[AnyStep],
                          desired: Desired[Any]) -> tuple[Report, list[Plan[Any]]]:
    """A dry run that also hands back its plans (--plan-out saves them: plan_file.py)."""
    plans = await read_and_plan(session, steps, desired)
    report = planned_report(command, await _app_summary(session, plans), steps, plans)
    report.warnings.extend(await _app_warnings(session))
    return report, plans


async def apply_saved(session: "Session", saved: "SavedPlan", steps: Sequence[AnyStep], desired: Desired[Any], *,
                      dry_run: bool, confirm: Confirm | None = None,
                      on_step: Callable[[str], None] = lambda name: None,
                      on_progress: Progress = lambda done, total, label: None) -> Report:
    """`natoma-entra apply FILE`: the same steps read and planned again, on the tenant the plan is for; refused
    (PlanRefused, exit 4, nothing written) when an object the plan was made from changed since, or when what would
    be written now is not exactly the saved operations. Otherwise the saved operations are applied as a run applies
    its own: inputs checked, permissions before the first write, the question before a delete."""
    from . import plan_file

    on_step("reading")
    await plan_file.check_tenant(session, saved)
    plans = await read_and_plan(session, steps, desired)
    moved = plan_file.moved(saved, session)
    if moved:
        raise plan_file.PlanRefused(moved, fix=plan_file.REPLAN_FIX)
    if not any(p.blocked for p in plans):  # a step that cannot be done now is reported as a run reports it
        differs = plan_file.differences(saved, plans)
        if differs:
            raise plan_file.PlanRefused(differs, fix=plan_file.REPLAN_FIX)
        plans = plan_file.with_saved_operations(saved, plans)
    app = await _app_summary(session, plans)
    if dry_run:
        report = planned_report("apply", app, steps, plans)
        report.warnings.extend(await _app_warnings(session))
        return report
    return await _checked_apply(session, "apply", list(steps), plans, desired, app, confirm, on_step, on_progress)


async def _checked_apply(session: "Session", command: str, steps: list[AnyStep], plans: list[Plan[Any]],
                         desired: Desired[Any], app: dict[str, Any], confirm: Confirm | None,
                         on_step: Callable[[str], None], on_progress: Progress) -> Report:
    """Plans made: stop when one is blocked or an input is missing, check the permissions, ask (when the plan
    deletes and a question is wanted), then apply."""
    blocked = next((p for p in plans if p.blocked), None)
    report = Report(command=command, dry_run=False, app=app, warnings=await _app_warnings(session))
    if blocked is not None:
        for p in plans:
            report.add(p.result("failed") if p is blocked else
                       _skipped(p, f"{blocked.step} cannot be done: nothing written"))
        return report
    needs = next((p for p in plans if p.needs and p.operations and p.needs_input), None)
    if needs is not None:
        raise UsageError(needs.needs or "", fix=needs.needs_fix)
    unmet = next((p for p in plans if p.needs and p.operations), None)
    if unmet is not None:  # nothing is written: the run would stop there anyway
        for p in plans:
            report.add(p.result("failed", error=p.needs, fix=p.needs_fix) if p is unmet else
                       _skipped(p, f"{unmet.step} cannot be done: nothing written"))
        return report
    _fits_the_budget(session, plans)  # before anything is sent: operations Graph's rate cannot let go in time
    from .preflight import before_writes

    also = [key for p in plans for op in p.operations for key in op.also]  # what apply sends beside the operation
    await before_writes(session, plans, command=command, also=also)  # permissions, before the first write (exit 2)
    if confirm is not None and any(op.asks for p in plans for op in p.operations):
        # it removes or replaces something that exists: shown, then asked (or --yes)
        if not await confirm(planned_report(command, app, steps, plans)):
            raise NotConfirmed(f"{command}: not confirmed; nothing was written")
    return await _apply(session, command, steps, plans, desired, report, on_step, on_progress)


def contributed(before: Facts, after: Facts) -> dict[str, Any]:
    """What a plan added to the facts it was planned with (the role ids, "a job is about to be created", ...)."""
    return {f.name: getattr(after, f.name) for f in fields(Facts) if getattr(after, f.name) != getattr(before, f.name)}


async def _apply(session: "Session", command: str, steps: list[AnyStep], plans: list[Plan[Any]], desired: Desired[Any],
                 report: Report, on_step: Callable[[str], None], on_progress: Progress) -> Report:
    """Apply in order. Each step starts from the facts as the steps before it turned out, plus what its own plan
    contributed; apply returns them as they turn out (the job it created)."""
    facts = Facts()
    planned_before = Facts()  # the facts each plan was made with: the plan before it's
    pace = pacing(session)
    i = 0
    while i < len(steps):
        step, plan = steps[i], plans[i]
        facts = replace(facts, **contributed(planned_before, plan.facts))
        planned_before = plan.facts
        if not plan.operations:
            applied = step.done(plan, facts)
        else:
            on_step(step.name)  # the CLI names it when the run is interrupted
            context = ApplyContext(session=session, facts=facts, pace=pace, on_progress=on_progress)
            try:
                applied = await step.apply(context, plan)
            except GraphError as e:
                applied = Applied([failed(step.name, e, plan.changes)], facts)
        facts = applied.facts
        for r in applied.results:
            report.add(r)
        report.warnings.extend(w for w in plan.warnings if w not in report.warnings)
        if any(r.status == "failed" for r in applied.results):
            for skipped in plans[i + 1:]:
                report.steps.append(_skipped(skipped, f"{step.name} failed"))
            return report
        if plan.facts.app_planned and plan.operations:
            # the app exists now: the remaining steps are read and planned again against it (their ids were
            # placeholders), then applied; an input problem found now still stops before their first write
            report.app = (await session.app()).summary()
            facts = replace(facts, app_planned=False)
            planned_before = facts
            replanned = await read_and_plan(session, steps[i + 1:], desired, facts)
            plans[i + 1:] = replanned
            stop = next((p for p in replanned if p.blocked or (p.needs and p.operations)), None)
            if stop is not None:
                for p in replanned:
                    report.add(p.result("failed", error=p.error or p.needs, fix=p.fix or p.needs_fix)
                               if p is stop else _skipped(p, f"{stop.step} cannot be done"))
                return report
        i += 1
    return report


async def status(session: "Session", steps: Sequence[AnyStep], desired: Desired[Any]) -> Report:
    """Read and plan every step, write nothing: each step's state (in place / drifted / missing / failed)."""
    plans = await read_and_plan(session, steps, desired)
    report = Report(command="status", dry_run=False, app=await _app_summary(session, plans),
                    warnings=await _app_warnings(session))
    for step, plan in zip(steps, plans):
        for result in step.planned(plan):
            result.info["state"] = plan.status_state()
            report.add(result)
    report.ok = all(s.status != "failed" for s in report.steps)
    return report


async def _app_summary(session: "Session", plans: Sequence[Plan[Any]]) -> dict[str, Any]:
    """The app the run is about, for the report (empty when there is none: teardown of a removed app)."""
    try:
        return (await session.app()).summary()
    except UsageError:
        return {}


async def _app_warnings(session: "Session") -> list[str]:
    """What the app lookup has to say: another app with the name, which this run does not use (twins.py). Said on
    stderr as the run goes (text output shows step warnings only) and kept in the report's warnings."""
    try:
        warnings = (await session.app()).warnings()
    except UsageError:
        return []
    for w in warnings:
        session.progress(f"warning: {w}")
    return warnings
