"""Text rendering of `status`: a table, one row per step (in place / drifted / missing / failed)."""
from __future__ import annotations

from .. import inert
from ..results import Report
from .console import table
from .report import change_line
from .values import info_value

_STYLE = {"in place": "green", "drifted": "yellow", "missing": "cyan", "failed": "red"}


def render_status(report: Report, console, *, verbose: bool = False, quiet: bool = False) -> None:
    if not quiet:
        console.print(inert.text(f"app: {report.app.get('displayName')} (appId {report.app.get('appId')})"))
    t = table("step", "state", "what differs / details")
    for s in report.steps:
        state = s.info.get("state", "?")
        if quiet and state == "in place":
            continue
        lines = [change_line(c, True).split(": ", 1)[-1] for c in s.pending]
        lines += [f"{k}: {info_value(k, v)}" for k, v in s.info.items()
                  if k != "state" and not isinstance(v, (dict, list))]
        lines += [f"! {w}" for w in s.warnings]
        if s.error:
            lines.append(f"error: {s.error}")
        if s.fix:
            lines.append(f"fix: {s.fix}")
        t.add_row(s.step, inert.cell(state, _STYLE.get(state, "white")), inert.cell_lines(lines))
    if t.row_count:
        console.print(t)
    elif quiet:
        return
