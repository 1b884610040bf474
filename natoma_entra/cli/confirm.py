"""Asking before a run deletes: the plan is shown, then a question at the terminal; without a terminal (or under
--output json, one document per run) the command needs --yes. The executor asks only when the plan deletes."""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ..errors import UsageError

if TYPE_CHECKING:
    from ..executor import Confirm
    from ..results import Report
    from .application import Application


def isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


QUESTION = "Go ahead with what is listed above?"


def confirmer(g: "Application", command: str, *, yes: bool, question: str = QUESTION,
              upfront: bool = False) -> "Confirm | None":
    """None with --yes (no question); else the executor's question, asked after it shows the plan, only when the run
    would remove or replace something. Under --output json (one document per run, never a plan then a result) the
    run needs --yes instead: refused when it comes to that, or at once for a command that is all deletions
    (`upfront`: teardown)."""
    if yes or g.dry_run:
        return None
    if upfront and g.output.value == "json":
        raise UsageError(f"{command} with --output json does not ask first",
                         fix="pass --yes (see what it would do with --dry-run --output json first)")

    async def confirm(plan: "Report") -> bool:
        import typer

        if g.output.value == "json":
            raise UsageError(f"{command} would remove or replace what is listed in its plan, and --output json "
                             "does not ask first",
                             fix="pass --yes (see what it would do with --dry-run --output json first)")
        if not (isatty(sys.stdin) and isatty(sys.stderr)):
            raise UsageError(f"{command} would remove or replace what its plan lists, and asks first: no terminal is "
                             "attached to ask at",
                             fix="pass --yes (see what it would do with --dry-run first)")
        from ..render.report import render

        with g.spinner_paused():  # the plan and the question on their own lines, not after the spinner's
            # the plan without a dry run's closing line: "dry run: nothing was written" right before "Tear down ...?"
            # read as if the run were over
            render(plan, g.out, verbose=g.verbose, quiet=g.quiet, footer=False)
            return bool(typer.confirm(question, default=False, err=True))

    return confirm
