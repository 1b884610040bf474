"""`natoma-entra doctor`: the guide's troubleshooting, as read-only checks with a verdict and a fix each."""
from __future__ import annotations

from typing import Optional

import typer

from .main import app
from .flags import Groups, ScimUrl, Scope


@app.command("doctor")
def doctor_command(
    ctx: typer.Context,
    user: Optional[str] = typer.Option(None, "--user", "-u", metavar="UPN",
                                       help="Also check one user: assigned? through which groups? with which role(s)?"),
    group: Groups = None,
    scim_url: ScimUrl = None,
    scope: Scope = None,
    multi_role: Optional[bool] = typer.Option(None, "--multi-role/--single-role", show_default=False,
                                              help="The mapping to expect (default: judge the mode in place)."),
):
    """Read-only: the guide's troubleshooting as checks, each with a verdict (ok / warn / fail) and a fix.

    Checks: the app and its roles; assignments without a role ("role missing"); configured groups not assigned;
    users who get two roles from two groups (MultipleGrantsNotSupported); users only in nested groups (skipped);
    the attribute mapping; the saved credentials, scope and connection test; the job (running, quarantine, last
    cycle). Takes setup's inputs (--group, --scim-url, --scope, --multi-role), so it needs no config file.
    Exits 1 when a check fails (with --strict also on a warning). Writes nothing.

    Example: natoma-entra --app Natoma doctor --user LeeG@contoso.onmicrosoft.com
    Example: natoma-entra --app Natoma doctor --group admin="Natoma Admins" --group member="Natoma Members"
    """
    from ..doctor import DoctorInputs, run_doctor
    from ..render.doctor import render_doctor
    from .context import execute, load_config
    from .flags import desired_flags

    g = ctx.obj
    config = load_config(g, desired_flags(group, scim_url, scope))
    inputs = DoctorInputs(user=user, mode=None if multi_role is None else ("multi-role" if multi_role else "single-role"))
    execute(g, "doctor", lambda s: run_doctor(s, inputs), config=config, renderer=render_doctor)
