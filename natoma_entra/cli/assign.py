"""`natoma-entra assign`: step 2."""
from __future__ import annotations

from typing import List, Optional

import typer

from .main import app
from .flags import CreateGroups, Groups, PlanOut, Replace, Yes


@app.command("assign")
def assign_command(
    ctx: typer.Context,
    group: Groups = None,
    prune: bool = typer.Option(False, "--prune", help="Remove assignments of the Natoma roles to groups that are not configured (never users, never other roles)."),
    prune_user: Optional[List[str]] = typer.Option(None, "--prune-user", metavar="USER", help="Also remove this user's own grant of a Natoma role (object id or display name; repeatable)."),
    replace: Replace = False,
    create_groups: CreateGroups = False,
    yes: Yes = False,
    plan_out: PlanOut = None,
):
    """Step 2: each configured group is assigned to the Natoma enterprise app with its role.

    Groups by display name or object id, from [groups] in the config file or --group ROLE=GROUP.

    Example: natoma-entra --app Natoma assign --group admin="Natoma Admins" --group member="Natoma Members"
    """
    from ..steps.assignments import STEP
    from ..steps.base import Options
    from .confirm import confirmer
    from .context import load_config, run_steps
    from .flags import parse_groups

    g = ctx.obj
    config = load_config(g, {"groups": parse_groups(group)})
    run_steps(g, "assign", [STEP], Options(prune=prune, replace=replace, create_groups=create_groups,
                                           prune_users=tuple(prune_user or ())), config=config,
              confirm=confirmer(g, "assign", yes=yes))
