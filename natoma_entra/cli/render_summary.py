"""Text rendering of `setup`: each step's lines, then a summary table."""
from __future__ import annotations

import sys

from ..results import Report
from ..redact import redact
from ..report import render

_STYLE = {"unchanged": "green", "changed": "yellow", "planned": "cyan", "failed": "red", "skipped": "dim"}


def render_summary(report: Report, *, verbose: bool = False, quiet: bool = False, file=None) -> None:
    from rich.console import Console
    from rich.table import Table

    out = file or sys.stdout
    render(report, "text", verbose=verbose, quiet=quiet, file=out)
    if quiet:
        return
    table = Table("step", "result", "changes", title="Summary")
    for s in report.steps:
        n = len(s.pending)
        table.add_row(s.step, f"[{_STYLE[s.status]}]{s.status}[/]", str(n) if n else "-")
    Console(file=out, highlight=False).print(table)
    if report.ok:
        Console(file=out, highlight=False).print(redact(
            "nothing to do: everything was already in place" if all(s.status == "unchanged" for s in report.steps)
            else ("dry run: nothing was written" if report.dry_run else "done")))
