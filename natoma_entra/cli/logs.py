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
    query = step.LogsQuery(user=user, errors=errors, since=since, limit=limit)

    async def body(session):
        from ..results import Report

        report = Report(command="logs")
        report.app = (await session.app()).summary()
        report.add(await step.run(session, query))
        return report

    from ..render.logs import render_logs

    execute(g, "logs", body, renderer=render_logs)
