"""`natoma-entra audit`: every user's role in Natoma against what Entra will send (read-only)."""
from __future__ import annotations

import typer

from .main import app
from .flags import ScimTokenFile, ScimTokenStdin, ScimUrl


@app.command("audit")
def audit_command(
    ctx: typer.Context,
    show_all: bool = typer.Option(False, "--all", help="List every user in the table, not only those that differ."),
    scim_url: ScimUrl = None,
    scim_token_file: ScimTokenFile = None,
    scim_token_stdin: ScimTokenStdin = False,
):
    """Read-only: does every user in Natoma hold the role Entra will send, and nobody else?

    In scope: direct members of the groups assigned to the app, and users assigned directly (members of nested
    groups are not provisioned by Entra). For each, the role Entra will send under the job's mapping (single-role:
    the one role, or "will fail" when the user has several; multi-role: the set), against the roles Natoma holds,
    read over SCIM. Verdicts: ok, missing in Natoma, wrong role, in Natoma but out of scope (active or inactive),
    will fail. An inactive out-of-scope user is what Entra leaves behind and is not a difference. With --exit-code,
    exits 3 when anything differs. Nothing is written, in Entra or in Natoma.

    Example: NATOMA_SCIM_TOKEN=... natoma-entra --app Natoma audit --exit-code
    """
    from .. import audit
    from .context import execute, load_config, scim_token
    from .flags import scim_flags

    g = ctx.obj
    config = load_config(g, scim_flags(scim_url, None, scim_token_file, scim_token_stdin))
    from ..render.audit import render_audit

    token = scim_token(g, config, use_stdin=scim_token_stdin)

    def renderer(report, console, *, verbose: bool = False, quiet: bool = False) -> None:
        render_audit(report, console, verbose=verbose, quiet=quiet, show_all=show_all)

    execute(g, "audit", audit.report, config=config, scim_token=token, renderer=renderer)
