"""Text rendering of `logs`: one table row per provisioning record, newest first."""
from __future__ import annotations


def render_logs(report, console, *, verbose: bool = False, quiet: bool = False) -> None:
    from rich.text import Text

    from .. import inert
    from .console import table as grid
    from ..steps.logs import summary
    from .report import render

    step = report.steps[0] if report.steps else None
    if step is None or step.status == "failed":
        render(report, console, verbose=verbose, quiet=quiet)
        return
    records = step.info.get("records") or []
    if not records:
        if not quiet:
            console.print(inert.text(f"no provisioning log records match ({step.info.get('filter')})", "dim"))
        return
    # values wrap, never cut to "...", but the user's UPN stays whole
    table = grid("time", "user", "action", "status", "error code", "reason", ids=("user",),
                 title=inert.text(f"Provisioning logs: {(report.app or {}).get('displayName')} ({len(records)}, "
                                  "newest first)"), title_justify="left")
    for rec in records:
        s = summary(rec)
        status = str(s["status"] or "")
        style = {"success": "green", "failure": "red", "skipped": "yellow", "warning": "yellow"}.get(status.lower(), "")
        reason = str(s["reason"] or "")
        if not verbose and len(reason) > 120:
            reason = reason[:117] + "..."
        table.add_row(inert.cell(_short_time(s["time"])), inert.cell(s["user"]), inert.cell(s["action"] or ""),
                      inert.cell(status, style), inert.cell(s["errorCode"] or ""), inert.cell(reason))
    console.print(table)
    if len(records) >= int(step.info.get("limit") or 0) and not quiet:
        console.print(Text(f"showing the newest {len(records)}; --limit N for more", style="dim"))


def _short_time(value) -> str:
    """2026-11-28T15:11:27.0149260Z -> 2026-11-28 15:11:27Z (UTC, to the second)."""
    text = str(value or "")
    m = __import__("re").match(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})", text)
    return f"{m.group(1)} {m.group(2)}Z" if m else text
