"""`natoma-entra status`: read-only view of the five steps."""
from __future__ import annotations

import typer

from .main import app


@app.command("status")
def status_command(ctx: typer.Context):
    """Read-only: each step's state (in place / drifted / missing, with what differs), the job's state and last cycle.

    With --exit-code, exits 3 when anything is not in place (for CI drift checks).

    Example: natoma-entra --app Natoma status --exit-code
    """
    from .. import status as status_mod
    from ..steps import assignments, credentials, mapping, roles, start
    from .context import execute
    from .render_status import render_status

    g = ctx.obj
    steps = [roles.run, assignments.run, mapping.run, credentials.run, start.run]
    execute(g, "status", lambda s: status_mod.status(s, steps), renderer=render_status)
