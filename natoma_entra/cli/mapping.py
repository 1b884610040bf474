"""`natoma-entra mapping`: step 3."""
from __future__ import annotations

import typer

from .main import app
from .flags import PlanOut


@app.command("mapping")
def mapping_command(
    ctx: typer.Context,
    multi_role: bool = typer.Option(
        False, "--multi-role/--single-role",
        help="--multi-role maps AssertiveAppRoleAssignmentsComplex([appRoleAssignments]) -> roles (every role a user "
             "holds); --single-role (the default) maps SingleAppRoleAssignment([appRoleAssignments]) -> "
             "roles[primary eq \"True\"].value. Switching removes the other mode's role mapping."),
    plan_out: PlanOut = None,
):
    r"""Step 3: the provisioning job maps each user's app role to Natoma's roles attribute.

    Creates the provisioning job from the app's "scim" template when there is none, then makes the user mapping
    SingleAppRoleAssignment([appRoleAssignments]) -> roles[primary eq "True"].value (or, with --multi-role,
    AssertiveAppRoleAssignmentsComplex([appRoleAssignments]) -> roles). The rest of the schema is written back
    exactly as read; nothing is written when the mapping is already there. --dry-run shows the change as a JSON diff.

    Example: natoma-entra --app Natoma mapping --dry-run
    """
    from ..steps.base import Options
    from ..steps.mapping import STEP
    from .context import run_steps

    run_steps(ctx.obj, "mapping", [STEP], Options(multi_role=multi_role))
