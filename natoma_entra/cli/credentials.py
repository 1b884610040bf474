"""`natoma-entra credentials`: step 4a."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .main import app


@app.command("credentials")
def credentials_command(
    ctx: typer.Context,
    scim_url: Optional[str] = typer.Option(None, "--scim-url", metavar="URL", help="Natoma's SCIM tenant URL (absolute https; http only for loopback hosts). Default: scim.url in the config file."),
    scope: Optional[str] = typer.Option(None, "--scope", metavar="assigned|all", help="Who is provisioned: 'assigned' = sync only assigned users and groups (the guide's choice, default), 'all' = everyone."),
    scim_token_file: Optional[Path] = typer.Option(None, "--scim-token-file", metavar="PATH", help="Read the SCIM token from this file (else $NATOMA_SCIM_TOKEN, or a hidden prompt at a terminal)."),
    scim_token_stdin: bool = typer.Option(False, "--scim-token-stdin", help="Read the SCIM token from standard input."),
    rotate: bool = typer.Option(False, "--rotate", help="Save the given token even when the saved one still passes the connection test."),
):
    """Step 4a: the SCIM tenant URL and token are saved and tested; scope is "sync only assigned users and groups".

    When the saved credentials pass the connection test with the wanted URL and scope, nothing is written
    ("credentials verified") and no token is needed. Otherwise the new values are tested first and saved only when
    the test passes. The token is never a flag value: it comes from NATOMA_SCIM_TOKEN (or the variable
    scim.token_env names), --scim-token-file, --scim-token-stdin, or a hidden prompt.

    Example: NATOMA_SCIM_TOKEN=... natoma-entra --app Natoma credentials --scim-url https://acme.natoma.app/scim/v2
    """
    from ..steps.base import Options
    from ..steps.credentials import STEP
    from .context import load_config, run_steps, scim_token
    from .flags import scim_flags
    from .token import token_given

    g = ctx.obj
    config = load_config(g, scim_flags(scim_url, scope, scim_token_file, scim_token_stdin))
    run_steps(g, "credentials", [STEP], Options(rotate=rotate, token_given=token_given(config, use_stdin=scim_token_stdin)),
              config=config, scim_token=scim_token(g, config, use_stdin=scim_token_stdin))
