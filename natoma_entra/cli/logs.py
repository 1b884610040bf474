"""`natoma-entra logs`: the app's provisioning logs (read-only)."""
from __future__ import annotations

from typing import Optional

import typer

from .main import app


@app.command("logs")
def logs_command(
    ctx: typer.Context,
    user: Optional[str] = typer.Option(None, "--user", metavar="UPN|ID", help="Only this user's records (userPrincipalName, object id or display name)."),
    errors: bool = typer.Option(False, "--errors", help="Only failures."),
    since: Optional[str] = typer.Option(None, "--since", metavar="WHEN", help="Only records since an ISO date/time (2025-06-01, 2025-06-01T08:00:00Z) or a duration back from now (30m, 1h, 2d, 1w)."),
    limit: int = typer.Option(50, "--limit", min=1, metavar="N", help="At most N records, newest first."),
):
    """Provisioning logs for the app, newest first: time, user, action, status, error code and reason.

    Needs the Graph permission AuditLog.Read.All and an Entra ID P1/P2 tenant; Entra keeps the logs 30 days.
    --output json gives the full records (steps[0].info.records).

    Example: natoma-entra --app Natoma logs --errors --since 2d
    """
    from ..steps import logs as step
    from .context import execute

    g = ctx.obj
    if since is not None:
        step.parse_since(since)  # bad input fails before signing in

    async def body(session):
        from ..results import Report

        report = Report(command="logs")
        report.app = (await session.app()).summary()
        report.add(await step.run(session))
        return report

    execute(g, "logs", body, options={"user": user, "errors": errors, "since": since, "limit": limit},
            renderer=render_text)


def render_text(report, *, verbose: bool = False, quiet: bool = False) -> None:
    import sys

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from ..redact import redact
    from ..report import render
    from ..steps.logs import summary

    step = report.steps[0] if report.steps else None
    if step is None or step.status == "failed":
        render(report, "text", verbose=verbose, quiet=quiet)
        return
    tty = sys.stdout.isatty()
    console = Console(file=sys.stdout, highlight=False, width=None if tty else 200)  # piped: one record a line
    records = step.info.get("records") or []
    if not records:
        if not quiet:
            console.print(Text(redact(f"no provisioning log records match ({step.info.get('filter')})"), style="dim"))
        return
    table = Table(title=f"Provisioning logs: {(report.app or {}).get('displayName')} ({len(records)}, newest first)",
                  title_justify="left")
    for col in ("time", "user", "action", "status", "error code"):
        table.add_column(col, no_wrap=True)
    table.add_column("reason", overflow="fold", ratio=1)
    for rec in records:
        s = summary(rec)
        status = str(s["status"] or "")
        style = {"success": "green", "failure": "red", "skipped": "yellow", "warning": "yellow"}.get(status.lower(), "")
        reason = str(s["reason"] or "")
        if not verbose and len(reason) > 120:
            reason = reason[:117] + "..."
        table.add_row(_short_time(s["time"]), redact(str(s["user"])), str(s["action"] or ""), Text(status, style=style),
                      str(s["errorCode"] or ""), redact(reason))
    console.print(table)
    if len(records) >= int(step.info.get("limit") or 0) and not quiet:
        console.print(Text(f"showing the newest {len(records)}; --limit N for more", style="dim"))


def _short_time(value) -> str:
    """2026-11-28T15:11:27.0149260Z -> 2026-11-28 15:11:27Z (UTC, to the second)."""
    text = str(value or "")
    m = __import__("re").match(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})", text)
    return f"{m.group(1)} {m.group(2)}Z" if m else text
