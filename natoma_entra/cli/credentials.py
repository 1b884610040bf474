"""`natoma-entra credentials`: step 4a."""
from __future__ import annotations

import typer

from .main import app
from .flags import PlanOut, Rotate, ScimTokenFile, ScimTokenStdin, ScimUrl, Scope, Yes


@app.command("credentials")
def credentials_command(
    ctx: typer.Context,
    scim_url: ScimUrl = None,
    scope: Scope = None,
    scim_token_file: ScimTokenFile = None,
    scim_token_stdin: ScimTokenStdin = False,
    rotate: Rotate = False,
    yes: Yes = False,
    plan_out: PlanOut = None,
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
    from .confirm import confirmer
    from .context import load_config, run_steps, scim_token
    from .flags import scim_flags
    from .token import token_given

    g = ctx.obj
    config = load_config(g, scim_flags(scim_url, scope, scim_token_file, scim_token_stdin))
    run_steps(g, "credentials", [STEP], Options(rotate=rotate, token_given=token_given(config, use_stdin=scim_token_stdin)),
              config=config, scim_token=scim_token(g, config, use_stdin=scim_token_stdin),
              confirm=confirmer(g, "credentials", yes=yes))
