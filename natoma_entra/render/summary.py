"""Text rendering of `setup`: each step's lines, then a summary table and one closing line."""
from __future__ import annotations

from .. import inert
from ..results import Report
from .console import table
from .report import render

_STYLE = {"unchanged": "green", "changed": "yellow", "planned": "cyan", "failed": "red", "skipped": "dim"}


def closing_line(report: Report) -> str:
    if not report.ok:
        failed = next((s.step for s in report.steps if s.status == "failed"), None)
        if failed is None:  # --strict with warnings
            return f"failed: {report.error or 'see above'}"
        if report.dry_run:  # nothing was tried: the plan shows what the real run would stop at
            return f"dry run: nothing was written; {failed} cannot be done as given (see its error and fix above)"
        return f"stopped: {failed} failed (see its error and fix above); run setup again once it is fixed"
    if all(s.status == "unchanged" for s in report.steps):
        return "nothing to do: everything was already in place" + (
            " (dry run: nothing was written)" if report.dry_run else "")
    return "dry run: nothing was written" if report.dry_run else "done"


def render_summary(report: Report, console, *, verbose: bool = False, quiet: bool = False) -> None:
    """Each step's lines, a summary table, and one closing line; "dry run: nothing was written" is said exactly once
    (with --quiet too: it is what a dry run did)."""
    render(report, console, verbose=verbose, quiet=quiet, footer=False)
    if quiet:
        if report.dry_run and report.ok:
            console.print(inert.text(closing_line(report)))
        return
    t = table("step", "result", "changes", title="Summary")
    for s in report.steps:
        n = len(s.made)
        t.add_row(s.step, inert.cell(s.status, _STYLE[s.status]), str(n) if n else "-")
    console.print(t)
    console.print(inert.text(closing_line(report)))
