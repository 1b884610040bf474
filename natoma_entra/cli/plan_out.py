"""`--plan-out FILE` on a writing command: a dry run (its Graph client refuses writes) that saves its plan for
`natoma-entra apply FILE` (natoma_entra/plan_file.py). The report is the dry run's, in any output format."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .application import Application

if TYPE_CHECKING:
    from ..config import Config
    from ..results import Report
    from ..session import Session
    from ..steps.base import AnyStep, Desired
    from .context import Renderer


def save(g: Application, command: str, steps: Sequence["AnyStep"], desired: "Desired[Any]", *, config: "Config",
         scim_token: Callable[[], str] | None, renderer: "Renderer | None") -> None:
    """Read and plan as a dry run does; when every step can be applied, write the plan to g.plan_out."""
    from .. import executor, plan_file
    from ..errors import UsageError
    from .context import execute

    path = g.plan_out
    assert path is not None

    async def body(session: "Session") -> "Report":
        report, plans = await executor.plan_for_saving(session, command, steps, desired)
        if not report.ok:  # a step that cannot be done is the report's failure (exit 1): no plan is saved
            return report
        cannot = plan_file.unsaveable(plans)
        if cannot is not None:
            plan, why, fix = cannot
            if plan.facts.app_planned:
                raise UsageError(why, fix=fix)
            result = next(r for r in report.steps if r.step == plan.step)
            result.status, result.error, result.fix = "failed", why, fix
            report.ok = False
            return report
        saved = await plan_file.build(session, command, desired.options, plans, report.app)
        plan_file.write(path, saved)
        n = saved.pending
        g.say(f"plan saved to {path}: {n} operation{'s' if n != 1 else ''}"
              + (", and the SCIM token is needed to apply it" if saved.needs_token else "")
              + (f"; apply it with: natoma-entra apply {path}" if n else "; nothing to apply"))
        return report

    execute(g, command, body, config=config, scim_token=scim_token, renderer=renderer, writes=False)


def check_writable(path: Path) -> None:
    """Before any read: --plan-out names a file in a directory that exists (a typo is exit 2, not a run lost)."""
    from ..errors import UsageError

    parent = Path(path).parent
    if Path(path).is_dir() or not parent.is_dir():
        raise UsageError(f"--plan-out {path}: not a file in an existing directory",
                         fix="give a file path whose directory exists, e.g. --plan-out plan.json")
