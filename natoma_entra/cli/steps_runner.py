"""Run steps in order in one session: a failure stops the run and names the step and the fix."""
from __future__ import annotations

from typing import Awaitable, Callable

from ..results import Report, StepResult

StepFn = Callable[[object], Awaitable[StepResult]]


async def run_steps(session, command: str, steps: list[StepFn], *, prepare=None) -> Report:
    report = Report(command=command, dry_run=session.dry_run)
    app = await session.app()
    report.app = app.summary()
    if prepare is not None:  # resolve every input (groups, token, URL) before the first write
        await prepare(session)
    for step in steps:
        result = report.add(await step(session))
        if result.status == "failed":
            remaining = steps[steps.index(step) + 1:]
            for later in remaining:
                name = getattr(later, "STEP", None) or later.__module__.rsplit(".", 1)[-1]
                report.steps.append(StepResult(step=name, status="skipped", info={"why": f"{result.step} failed"}))
            break
    return report
