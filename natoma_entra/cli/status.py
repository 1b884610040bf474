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
    from .. import runner
    from ..render.status import render_status
    from ..steps.base import Desired, Options
    from .context import execute, load_config

    g = ctx.obj
    config = load_config(g)
    execute(g, "status", lambda s: runner.status(s, runner.SETUP_STEPS, Desired(config, Options())), config=config,
            renderer=render_status, read_only=True)
