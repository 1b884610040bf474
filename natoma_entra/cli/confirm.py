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
        from ..errors import Interrupted
        from ..interrupts import ctrl_c_stops_here
        from ..render.report import render

        # the plan and the question on their own lines, not after the spinner's; Ctrl-C at the question stops the
        # run there and then (natoma_entra/interrupts.py)
        with g.spinner_paused(), ctrl_c_stops_here() as ctrl_c:
            # the plan without a dry run's closing line: "dry run: nothing was written" right before "Tear down ...?"
            # read as if the run were over
            render(plan, g.out, verbose=g.verbose, quiet=g.quiet, footer=False)
            try:
                return bool(typer.confirm(question, default=False, err=True))
            except typer.Abort:  # Ctrl-C, or the end of the input (Ctrl-D): that is a no
                typer.echo(err=True)  # what follows starts its own line, not after the question
                if ctrl_c.pressed:
                    raise Interrupted(f"{command}: interrupted at the question; nothing was written") from None
                return False

    return confirm
