"""`natoma-entra provision USER`: step 5, provision on demand for one user and show the role Natoma received."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .main import app


@app.command("provision")
def provision_command(
    ctx: typer.Context,
    user: str = typer.Argument(..., metavar="USER", help="The user: userPrincipalName, object id or display name."),
    verify: bool = typer.Option(False, "--verify", help="Read the user back from Natoma's SCIM endpoint and compare its roles with what Entra decided (needs the SCIM token)."),
    scim_url: Optional[str] = typer.Option(None, "--scim-url", metavar="URL", help="With --verify: Natoma's SCIM tenant URL (default: scim.url in the config file, else the URL the job has saved)."),
    scim_token_file: Optional[Path] = typer.Option(None, "--scim-token-file", metavar="PATH", help="With --verify: read the SCIM token from this file (else $NATOMA_SCIM_TOKEN, or a hidden prompt)."),
    scim_token_stdin: bool = typer.Option(False, "--scim-token-stdin", help="With --verify: read the SCIM token from standard input."),
):
    """Step 5: provision one user now (Entra's "Provision on demand") and show what was sent and the role.

    Finds the user rule in the job's schema, asks Entra to provision the user, and reads the verdict: provisioned,
    already in sync, skipped (not assigned to the app), or failed (for example MultipleGrantsNotSupported when the
    user is in two role groups). --verify then reads the user back from Natoma's SCIM endpoint
    (userName eq "<upn>") and compares the roles Natoma holds with the role Entra decided. Exit 0 when the user is
    in Natoma with a role, 1 when provisioning failed or was skipped or --verify disagrees, 2 for an unknown user.
    Provision on demand allows 5 requests per 10 seconds; a throttled request is retried a few times.

    Example: natoma-entra --app Natoma provision AdeleV@contoso.com --verify
    """
    from ..graph.errors import UsageError
    from ..steps import provision as step
    from .context import execute, load_config
    from .options import scim_flags
    from .token import token_source

    g = ctx.obj
    if (scim_url or scim_token_file or scim_token_stdin) and not verify:
        raise UsageError("--scim-url, --scim-token-file and --scim-token-stdin are for --verify",
                         fix="add --verify, or drop them")
    config = load_config(g, scim_flags(scim_url, None, scim_token_file, scim_token_stdin))
    token = token_source(config, use_stdin=scim_token_stdin, sandbox=g.sandbox)

    async def body(session):
        from ..results import Report

        report = Report(command="provision", dry_run=g.dry_run)
        report.app = (await session.app()).summary()
        report.add(await step.run(session))
        return report

    execute(g, "provision", body, config=config, scim_token=token, renderer=render_text,
            command_options={"user": user, "verify": verify, "dry_run": g.dry_run})


def render_text(report, console=None, *, verbose: bool = False, quiet: bool = False) -> None:
    """What was sent (modified properties, provisioning steps), the verdict, the role, and Natoma's answer."""
    import sys

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from ..redact import redact
    from ..render.console import make_console
    from ..render.report import render

    console = console or make_console()
    step = report.steps[0] if report.steps else None
    if step is None or step.status in ("planned",) or not step.info.get("result"):
        render(report, console, verbose=verbose, quiet=quiet)
        return
    info = step.info

    def line(text: str, style: str = "") -> None:
        console.print(Text(redact(text), style=style))

    if not quiet:
        app = report.app or {}
        line(f"app: {app.get('displayName')} (appId {app.get('appId')})", "dim")
        modified = info.get("modifiedProperties") or []
        if modified:
            t = Table(title="Modified properties", title_justify="left", show_edge=False)
            for col in ("property", "old", "new"):
                t.add_column(col)
            for m in modified:
                t.add_row(*(redact(str(x)) if x is not None else "" for x in
                            (m.get("displayName"), m.get("oldValue"), m.get("newValue"))))
            console.print(t)
        steps = info.get("provisioningSteps") or []
        if steps:
            t = Table(title="Provisioning steps", title_justify="left", show_edge=False)
            for col in ("step", "type", "status", "description"):
                t.add_column(col, overflow="fold")
            for s in steps:
                status = str(s.get("status") or "")
                style = {"success": "green", "skipped": "yellow", "failure": "red"}.get(status.lower(), "")
                t.add_row(redact(str(s.get("name") or "")), str(s.get("type") or s.get("provisioningStepType") or ""),
                          Text(status, style=style), redact(str(s.get("description") or "")))
                if verbose and isinstance(s.get("details"), dict):
                    for k, v in s["details"].items():
                        t.add_row("", "", "", Text(redact(f"{k}: {v}"), style="dim"))
            console.print(t)
    style = {"changed": "bold yellow", "unchanged": "bold green", "failed": "bold red"}.get(step.status, "bold")
    outcome = {"provisioned": "provisioned", "in_sync": "already in sync", "not_assigned": "skipped: not assigned",
               "disabled": "disabled in Natoma (no longer assigned)",
               "failed": "failed", "unknown": "unknown result"}.get(info.get("outcome"), info.get("outcome") or "")
    head = f"{info.get('user')}: {outcome} (result {info.get('result')}"
    head += f", {info.get('errorCode')})" if info.get("errorCode") else ")"
    line(head, style)
    if info.get("role"):
        src = {"assignment": " (from the user's app role assignment)"}.get(info.get("roleSource"), "")
        line(f"  role: {info['role']}{src}")
    if info.get("reason") and info.get("outcome") not in ("provisioned", "in_sync", "disabled"):
        line(f"  reason: {info['reason']}", "dim")
    natoma = info.get("natoma")
    if isinstance(natoma, dict):
        if not natoma.get("checked"):
            line(f"  natoma: not checked ({natoma.get('error')})", "red")
        elif not natoma.get("found"):
            line(f"  natoma: no user {info.get('user')}", "red" if natoma.get("matches") is False else "dim")
        else:
            roles = ", ".join(natoma.get("roles") or []) or "(none)"
            verdict = {True: "matches Entra", False: "DIFFERS from Entra", None: ""}[natoma.get("matches")]
            line(f"  natoma: user {natoma.get('id')} active={natoma.get('active')} roles={roles}"
                 + (f" ({verdict})" if verdict else ""), "green" if natoma.get("matches") else "red"
                 if natoma.get("matches") is False else "")
    for w in step.warnings:
        line(f"  ! {w}", "yellow")
    if step.error:
        line(f"  error: {step.error}", "red")
    if step.fix:
        line(f"  fix: {step.fix}", "red")
