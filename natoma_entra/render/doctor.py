"""Text rendering of `doctor`: a table (check, verdict, details, fix) and a summary line."""
from __future__ import annotations

from .. import inert
from ..doctor.checks import SHOWN
from ..listing import more
from ..results import Report
from .console import table

_STYLE = {"ok": "green", "warn": "yellow", "fail": "red"}
OK_SHOWN = 4  # details of a check that passed, without --verbose


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


def render_doctor(report: Report, console, *, verbose: bool = False, quiet: bool = False) -> None:
    from rich.text import Text

    if report.app and not quiet:
        console.print(inert.text(f"app: {report.app.get('displayName')} (appId {report.app.get('appId')})"))
    t = table("check", "verdict", "details", "fix")
    for s in report.steps:
        verdict = s.info.get("verdict", "?")
        if quiet and verdict == "ok":
            continue
        lines = [s.info.get("summary") or ""]
        details = s.info.get("details") or []
        # bounded in text (the JSON report holds every line): an ok check's few, another's up to listing's bound
        shown = 2 * SHOWN if verbose or verdict != "ok" else OK_SHOWN  # the checks bound their own lists at SHOWN
        if len(details) <= shown:
            lines += [f"  {d}" for d in details]
        else:
            lines += [f"  {d}" for d in details[:shown]] + [
                f"  {more(len(details) - shown)}" + ("" if verbose or verdict != "ok" else "; --verbose for more")]
        t.add_row(s.step, inert.cell(verdict, _STYLE.get(verdict, "white")), inert.cell_lines(lines),
                  inert.cell(s.fix or ""))
    console.print(t)
    _permissions_table(report, console, quiet=quiet)
    c = counts(report)
    style = "red" if c["fail"] else ("yellow" if c["warn"] else "green")
    console.print(Text(summary_line(report), style=style))


def _permissions_table(report: Report, console, *, quiet: bool = False) -> None:
    """The permissions check's table: each command, whether this identity can run it, what it lacks, how to grant."""
    step = next((s for s in report.steps if s.step == "permissions"), None)
    rows = ((step.info.get("data") or {}).get("commands") or []) if step is not None else []
    shown = [r for r in rows if not (quiet and r.get("ok"))]
    if not shown:
        return
    t = table("command", "can run", "missing", "how to grant", title="Permissions per command")
    for r in shown:
        missing = r.get("missing") or []
        grants = list(dict.fromkeys(cmd for m in missing for cmd in (m.get("grant") or {}).get("az") or []))
        can = inert.cell("yes", "green") if r.get("ok") else inert.cell("no", "red")
        t.add_row(inert.cell(r.get("command") or ""), can,
                  inert.cell_lines([m.get("permission") or "" for m in missing]), inert.cell_lines(grants))
    console.print(t)
