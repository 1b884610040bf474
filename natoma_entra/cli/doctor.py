"""`natoma-entra doctor`: the guide's troubleshooting, as read-only checks with a verdict and a fix each."""
from __future__ import annotations

from typing import Optional

import typer

from .main import app


@app.command("doctor")
def doctor_command(
    ctx: typer.Context,
    user: Optional[str] = typer.Option(None, "--user", "-u", metavar="UPN",
                                       help="Also check one user: assigned? through which groups? with which role(s)?"),
):
    """Read-only: the guide's troubleshooting as checks, each with a verdict (ok / warn / fail) and a fix.

    Checks: the app and its roles; assignments without a role ("role missing"); configured groups not assigned;
    users who get two roles from two groups (MultipleGrantsNotSupported); users only in nested groups (skipped);
    the attribute mapping; the saved credentials, scope and connection test; the job (running, quarantine, last
    cycle). Exits 1 when a check fails (with --strict also on a warning). Writes nothing.

    Example: natoma-entra --app Natoma doctor --user LeeG@contoso.onmicrosoft.com
    """
    from ..doctor import run_doctor
    from ..render.doctor import render_doctor
    from .context import execute

    execute(ctx.obj, "doctor", lambda s: run_doctor(s, user=user), renderer=render_doctor, read_only=True)
