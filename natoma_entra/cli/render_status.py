"""Text rendering of `status`: a table, one row per step."""
from __future__ import annotations

import sys

from ..results import Report
from ..redact import redact
from ..report import change_line

_STYLE = {"in place": "green", "drifted": "yellow", "missing": "cyan", "failed": "red"}


def render_status(report: Report, *, verbose: bool = False, quiet: bool = False, file=None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(file=file or sys.stdout, highlight=False, soft_wrap=True)
    console.print(redact(f"app: {report.app.get('displayName')} (appId {report.app.get('appId')})"))
    table = Table("step", "state", "what differs / details")
    for s in report.steps:
        state = s.info.get("state", "?")
        lines = [change_line(c, True).split(": ", 1)[-1] for c in s.pending]
        lines += [f"{k}: {v}" for k, v in s.info.items() if k != "state" and not isinstance(v, (dict, list))]
        lines += [f"! {w}" for w in s.warnings]
        if s.error:
            lines.append(f"error: {s.error}")
        if s.fix:
            lines.append(f"fix: {s.fix}")
        table.add_row(s.step, f"[{_STYLE.get(state, 'white')}]{state}[/]", escape(redact("\n".join(lines))))
    console.print(table)
