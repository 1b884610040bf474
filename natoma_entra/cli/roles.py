"""`natoma-entra roles`: step 1."""
from __future__ import annotations

import typer

from .flags import PlanOut, Yes
from .main import app


@app.command("roles")
def roles_command(
    ctx: typer.Context,
    prune: bool = typer.Option(False, "--prune", help="Disable, then remove, enabled roles other than the three Natoma roles (never the template's msiam_access/User)."),
    yes: Yes = False,
    plan_out: PlanOut = None,
):
    """Step 1: the app registration has the three Natoma app roles, enabled, for users and groups.

    Admin=admin, AppAdmin=AppAdmin, Member=member (display name = value; values are case-sensitive).
    Other roles are kept exactly as they are unless --prune is given.

    Example: natoma-entra --app Natoma roles --dry-run
    """
    from ..steps.base import Options
    from ..steps.roles import STEP
    from .confirm import confirmer
    from .context import run_steps

    g = ctx.obj
    run_steps(g, "roles", [STEP], Options(prune=prune), confirm=confirmer(g, "roles", yes=yes))
