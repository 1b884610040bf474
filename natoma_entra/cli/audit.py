"""`natoma-entra audit`: every user's role in Natoma against what Entra will send (read-only)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .main import app


@app.command("audit")
def audit_command(
    ctx: typer.Context,
    show_all: bool = typer.Option(False, "--all", help="List every user in the table, not only those that differ."),
    scim_url: Optional[str] = typer.Option(None, "--scim-url", metavar="URL", help="Natoma's SCIM tenant URL (default: scim.url in the config file, else the URL the job has saved)."),
    scim_token_file: Optional[Path] = typer.Option(None, "--scim-token-file", metavar="PATH", help="Read the SCIM token from this file (else $NATOMA_SCIM_TOKEN, or a hidden prompt at a terminal)."),
    scim_token_stdin: bool = typer.Option(False, "--scim-token-stdin", help="Read the SCIM token from standard input."),
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
    from .context import execute, load_config
    from .options import scim_flags
    from .token import token_source

    g = ctx.obj
    config = load_config(g, scim_flags(scim_url, None, scim_token_file, scim_token_stdin))
    token = token_source(config, use_stdin=scim_token_stdin, sandbox=g.sandbox)

    def renderer(report, *, verbose: bool = False, quiet: bool = False) -> None:
        render_text(report, verbose=verbose, quiet=quiet, show_all=show_all)

    execute(g, "audit", audit.report, config=config, scim_token=token, renderer=renderer)


def render_text(report, *, verbose: bool = False, quiet: bool = False, show_all: bool = False) -> None:
    """Counts, then a table of the users that differ (every user with --all); values wrap, never cut."""
    import sys

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from ..audit import core
    from ..redact import redact
    from ..report import render

    step = report.steps[0] if report.steps else None
    if step is None or step.status == "failed" or "counts" not in step.info:
        render(report, "text", verbose=verbose, quiet=quiet)
        return
    info = step.info
    # at a terminal: its width (cells wrap); elsewhere (CI logs): wide enough that nothing needs wrapping
    console = Console(file=sys.stdout, highlight=False, soft_wrap=False,
                      width=None if sys.stdout.isatty() else 200)

    def line(text: str, style: str = "") -> None:
        console.print(Text(redact(text), style=style), soft_wrap=True)

    if not quiet:
        app = report.app or {}
        line(f"app: {app.get('displayName')} (appId {app.get('appId')})", "dim")
        line(f"mode: {info.get('mode')} ({info.get('roleFunction')}); matching {info.get('matching')}; "
             f"Natoma: {info.get('scimUrl')}", "dim")
        line(f"in scope: {info['inScope']:,} users ({info['assignedGroups']:,} assigned groups, "
             f"{info['memberships']:,} memberships, {info['directUsers']:,} assigned directly); "
             f"in Natoma: {info['inNatoma']:,} users", "dim")
    counts = info["counts"]
    summary = ", ".join(f"{core.LABEL[v]}: {counts.get(v, 0):,}" for v in core.VERDICTS)
    drifted = info.get("state") == "drifted"
    line(("audit: differences found" if drifted else "audit: Natoma matches Entra") + f" ({summary})",
         "bold yellow" if drifted else "bold green")
    rows = [u for u in info["users"] if show_all or u["verdict"] in core.DIFFERS]
    if rows and not (quiet and not drifted):
        t = Table(show_edge=False, pad_edge=False)
        for col in ("user", "verdict", "Entra will send", "Natoma holds"):
            t.add_column(col, overflow="fold")
        style = {core.OK: "green", core.OUT_OF_SCOPE_INACTIVE: "dim"}
        for u in rows:
            exp = "-" if u["expected"] is None else (", ".join(u["expected"]) or "(no role)")
            have = "-" if u["natoma"] is None else (", ".join(u["natoma"]) or "(no role)")
            if u["natoma"] is not None and u.get("active") is False:
                have += " (inactive)"
            t.add_row(redact(u["user"]), Text(core.LABEL[u["verdict"]], style=style.get(u["verdict"], "red")),
                      redact(exp), redact(have))
        console.print(t)
    for w in step.warnings:
        line(f"! {w}", "yellow")
    if drifted and not quiet:
        line("fix: provision the users that differ (natoma-entra provision USER ... --verify), or wait for the next "
             "cycle; for 'will fail', keep each user in one Natoma role group or map roles with "
             "`natoma-entra mapping --multi-role`", "dim")
