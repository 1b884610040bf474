"""Text rendering of `doctor`: a table (check, verdict, details, fix) and a summary line."""
from __future__ import annotations

from ..redact import redact
from ..results import Report
from .console import table

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


def render_doctor(report: Report, console, *, verbose: bool = False, quiet: bool = False) -> None:
    from rich.markup import escape

    if report.app and not quiet:
        console.print(escape(redact(f"app: {report.app.get('displayName')} (appId {report.app.get('appId')})")))
    t = table("check", "verdict", "details", "fix")
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
        t.add_row(s.step, f"[{_STYLE.get(verdict, 'white')}]{verdict}[/]", escape(redact("\n".join(lines))),
                      escape(redact(s.fix or "")))
    console.print(t)
    _permissions_table(report, console, quiet=quiet)
    c = counts(report)
    style = "red" if c["fail"] else ("yellow" if c["warn"] else "green")
    console.print(f"[{style}]{escape(summary_line(report))}[/]")


def _permissions_table(report: Report, console, *, quiet: bool = False) -> None:
    """The permissions check's table: each command, whether this identity can run it, what it lacks, how to grant."""
    from rich.markup import escape

    step = next((s for s in report.steps if s.step == "permissions"), None)
    rows = ((step.info.get("data") or {}).get("commands") or []) if step is not None else []
    shown = [r for r in rows if not (quiet and r.get("ok"))]
    if not shown:
        return
    t = table("command", "can run", "missing", "how to grant", title="Permissions per command")
    for r in shown:
        missing = r.get("missing") or []
        grants = list(dict.fromkeys(cmd for m in missing for cmd in (m.get("grant") or {}).get("az") or []))
        t.add_row(escape(r.get("command") or ""), "[green]yes[/]" if r.get("ok") else "[red]no[/]",
                  escape(redact("\n".join(m.get("permission") or "" for m in missing))),
                  escape(redact("\n".join(grants))))
    console.print(t)
