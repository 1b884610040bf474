"""Text rendering of `doctor`: a table (check, verdict, details, fix) and a summary line."""
from __future__ import annotations

import sys

from ..results import Report
from ..redact import redact

_STYLE = {"ok": "green", "warn": "yellow", "fail": "red"}


def counts(report: Report) -> dict[str, int]:
    out = {"ok": 0, "warn": 0, "fail": 0}
    for s in report.steps:
        v = s.info.get("verdict")
        if v in out:
            out[v] += 1
    return out


def summary_line(report: Report) -> str:
    c = counts(report)
    total = sum(c.values())
    return f"{total} checks: {c['ok']} ok, {c['warn']} warn, {c['fail']} fail"


def render_doctor(report: Report, *, verbose: bool = False, quiet: bool = False, file=None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(file=file or sys.stdout, highlight=False, soft_wrap=True)
    if report.app:
        console.print(escape(redact(f"app: {report.app.get('displayName')} (appId {report.app.get('appId')})")))
    table = Table("check", "verdict", "details", "fix")
    for s in report.steps:
        verdict = s.info.get("verdict", "?")
        if quiet and verdict == "ok":
            continue
        lines = [s.info.get("summary") or ""]
        details = s.info.get("details") or []
        if verbose or verdict != "ok" or len(details) <= 4:
            lines += [f"  {d}" for d in details]
        else:
            lines += [f"  {d}" for d in details[:4]] + [f"  ... {len(details) - 4} more (--verbose)"]
        table.add_row(s.step, f"[{_STYLE.get(verdict, 'white')}]{verdict}[/]", escape(redact("\n".join(lines))),
                      escape(redact(s.fix or "")))
    console.print(table)
    c = counts(report)
    style = "red" if c["fail"] else ("yellow" if c["warn"] else "green")
    console.print(f"[{style}]{escape(summary_line(report))}[/]")
