"""`natoma-entra setup`: steps 1-4 in order, from one config."""
from __future__ import annotations

import typer

from .main import app
from .flags import (CreateGroups, Groups, PlanOut, Replace, Restart, Rotate, ScimTokenFile, ScimTokenStdin, ScimUrl,
                    Scope, Wait, Yes)


@app.command("setup")
def setup_command(
    ctx: typer.Context,
    group: Groups = None,
    replace: Replace = False,
    multi_role: bool = typer.Option(False, "--multi-role/--single-role", help="Map all of a user's roles (AssertiveAppRoleAssignmentsComplex -> roles) instead of one."),
    scim_url: ScimUrl = None,
    scope: Scope = None,
    scim_token_file: ScimTokenFile = None,
    scim_token_stdin: ScimTokenStdin = False,
    rotate: Rotate = False,
    wait: Wait = False,
    restart: Restart = False,
    create_app: bool = typer.Option(False, "--create-app", help="Create the enterprise app (non-gallery template) when no app has the name given by --app."),
    create_groups: CreateGroups = False,
    yes: Yes = False,
    plan_out: PlanOut = None,
):
    """Run roles -> assign -> mapping -> credentials -> start, in that order.

    Every input (groups, SCIM URL, token) is checked before the first write. A failure stops the run and names the
    step and the fix; running setup again continues from wherever the tenant is. A second run changes nothing.

    Example: NATOMA_SCIM_TOKEN=... natoma-entra --config natoma-entra.toml setup
    Example: natoma-entra --sandbox setup
    Example: natoma-entra --app Natoma setup --create-app --create-groups   (a bare tenant)
    """
    from ..executor import SETUP_STEPS
    from ..render.summary import render_summary
    from ..steps.app import STEP as APP_STEP
    from ..steps.base import Options
    from .confirm import confirmer
    from .context import load_config, run_steps, scim_token
    from .flags import parse_groups, scim_flags
    from .token import token_given

    g = ctx.obj
    config = load_config(g, {"groups": parse_groups(group), **scim_flags(scim_url, scope, scim_token_file, scim_token_stdin)})
    options = Options(replace=replace, multi_role=multi_role, rotate=rotate, restart=restart,
                      token_given=token_given(config, use_stdin=scim_token_stdin),
                      create_app=create_app, create_groups=create_groups)
    steps = (APP_STEP, *SETUP_STEPS) if create_app else SETUP_STEPS
    # every step reads (and a new token is tested) before the first write: bad input leaves the tenant as it was
    run_steps(g, "setup", steps, options, config=config, scim_token=scim_token(g, config, use_stdin=scim_token_stdin),
              renderer=render_summary, wait=wait, confirm=confirmer(g, "setup", yes=yes))
