"""`natoma-entra setup`: steps 1-4 in order, from one config."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .main import app


@app.command("setup")
def setup_command(
    ctx: typer.Context,
    group: Optional[List[str]] = typer.Option(None, "--group", "-g", metavar="ROLE=GROUP", help="A group and its role (repeatable); replaces the config file's [groups]."),
    replace: bool = typer.Option(False, "--replace", help="Remove a configured group's other assignments on this app."),
    multi_role: bool = typer.Option(False, "--multi-role/--single-role", help="Map all of a user's roles (AssertiveAppRoleAssignmentsComplex -> roles) instead of one."),
    scim_url: Optional[str] = typer.Option(None, "--scim-url", metavar="URL", help="Natoma's SCIM tenant URL (default: scim.url in the config file)."),
    scope: Optional[str] = typer.Option(None, "--scope", metavar="assigned|all", help="'assigned' = sync only assigned users and groups (default), 'all' = everyone."),
    scim_token_file: Optional[Path] = typer.Option(None, "--scim-token-file", metavar="PATH", help="Read the SCIM token from this file (else $NATOMA_SCIM_TOKEN, or a hidden prompt)."),
    scim_token_stdin: bool = typer.Option(False, "--scim-token-stdin", help="Read the SCIM token from standard input."),
    rotate: bool = typer.Option(False, "--rotate", help="Save the given SCIM token even when the saved one still works."),
    wait: bool = typer.Option(False, "--wait", help="Then follow the provisioning cycle until it ends (bounded by --timeout): exit 0 when it succeeds, 1 on quarantine or failure."),
    restart: bool = typer.Option(False, "--restart", help="Restart the provisioning job (a fresh cycle) instead of only starting it."),
    create_app: bool = typer.Option(False, "--create-app", help="Create the enterprise app (non-gallery template) when no app has the name given by --app."),
    create_groups: bool = typer.Option(False, "--create-groups", help="Create a configured group that does not exist, as a security group."),
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
              renderer=render_summary, wait=wait)
