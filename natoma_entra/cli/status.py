"""`natoma-entra status`: read-only view of the five steps."""
from __future__ import annotations

import typer

from .main import app
from .flags import Groups, ScimUrl, Scope


@app.command("status")
def status_command(
    ctx: typer.Context,
    group: Groups = None,
    scim_url: ScimUrl = None,
    scope: Scope = None,
    multi_role: bool = typer.Option(False, "--multi-role/--single-role",
                                    help="The mapping to expect: every role a user holds, or one (the default)."),
):
    """Read-only: each step's state (in place / drifted / missing, with what differs), the job's state and last cycle.

    Takes setup's inputs (--group, --scim-url, --scope, --multi-role), so a drift check needs no config file.
    With --exit-code, exits 3 when anything is not in place (for CI drift checks).

    Example: natoma-entra --app Natoma status --exit-code
    Example: natoma-entra --app Natoma status --group admin="Natoma Admins" --scim-url https://acme.natoma.app/scim/v2
    """
    from .. import executor
    from ..render.status import render_status
    from ..steps.base import Desired, Options
    from .context import execute, load_config
    from .flags import desired_flags

    g = ctx.obj
    config = load_config(g, desired_flags(group, scim_url, scope))
    desired = Desired(config, Options(multi_role=multi_role))
    execute(g, "status", lambda s: executor.status(s, executor.SETUP_STEPS, desired), config=config,
            renderer=render_status)
