"""`natoma-entra provision USER [USER ...] | --members-of GROUP`: step 5, provision on demand and show the role Natoma
received (one user in detail; several in a summary table)."""
from __future__ import annotations

from typing import List, Optional

import typer

from .flags import ScimTokenFile, ScimTokenStdin, ScimUrl
from .main import app


@app.command("provision")
def provision_command(
    ctx: typer.Context,
    users: Optional[List[str]] = typer.Argument(None, metavar="[USER]...", help="Users: userPrincipalName, object id or display name."),
    members_of: Optional[str] = typer.Option(None, "--members-of", metavar="GROUP", help="Provision every direct user member of this group (display name or object id)."),
    # the old name of --members-of, kept working (every other --group is ROLE=GROUP); not in --help
    group: Optional[str] = typer.Option(None, "--group", metavar="GROUP", hidden=True),
    verify: bool = typer.Option(False, "--verify", help="Read each user back from Natoma's SCIM endpoint and compare its roles with what Entra decided (needs the SCIM token; --scim-url and the token flags go with it)."),
    scim_url: ScimUrl = None,
    scim_token_file: ScimTokenFile = None,
    scim_token_stdin: ScimTokenStdin = False,
):
    """Step 5: provision users now (Entra's "Provision on demand") and show what was sent and the role.

    Finds the user rule in the job's schema, asks Entra to provision each user, and reads the verdict: provisioned,
    already in sync, skipped (not assigned to the app), or failed (for example MultipleGrantsNotSupported when the
    user is in two role groups). --verify then reads the user back from Natoma's SCIM endpoint
    (userName eq "<upn>") and compares the roles Natoma holds with the role Entra decided. Provision on demand
    allows 5 requests per 10 seconds: several users are paced to that (a progress bar at a terminal, a line every
    10 s otherwise), then summed up in a table. Exit 0 when every user is in Natoma with a role, 1 when one failed
    or was skipped or --verify disagrees, 2 for an unknown user or group.

    Example: natoma-entra --app Natoma provision AdeleV@contoso.com --verify
    Example: natoma-entra --app Natoma provision --members-of "Natoma Admins"
    """
    from ..errors import UsageError
    from ..executor import run
    from ..render.progress import progress_reporter
    from ..render.provision import render_provision
    from ..steps.base import Desired
    from ..steps.provision import PROVISION, ProvisionInputs
    from .context import execute, load_config, scim_token
    from .flags import scim_flags

    g = ctx.obj
    users = list(users or [])
    if group is not None:
        if members_of is not None:
            raise UsageError("--group is the old name of --members-of; both were given", fix="give --members-of alone")
        g.error_line("warning: provision --group GROUP is deprecated; use --members-of GROUP")
        members_of = group
    if not users and not members_of:
        raise UsageError("no user to provision",
                         fix="name users (provision USER [USER ...]) or a group (--members-of GROUP)")
    if (scim_url or scim_token_file or scim_token_stdin) and not verify:
        raise UsageError("--scim-url, --scim-token-file and --scim-token-stdin are for --verify",
                         fix="add --verify, or drop them")
    config = load_config(g, scim_flags(scim_url, None, scim_token_file, scim_token_stdin))
    desired = Desired(config, ProvisionInputs(users=tuple(users), group=members_of, verify=verify))

    async def body(session):
        with progress_reporter(g, clock=session.clock.monotonic) as on_progress:  # a bar at a terminal
            return await run(session, "provision", [PROVISION], desired, dry_run=g.dry_run, on_progress=on_progress)

    execute(g, "provision", body, config=config, scim_token=scim_token(g, config, use_stdin=scim_token_stdin),
            renderer=render_provision, writes=True)

