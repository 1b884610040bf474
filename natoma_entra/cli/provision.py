"""`natoma-entra provision USER [USER ...] | --group GROUP`: step 5, provision on demand and show the role Natoma
received (one user in detail; several in a summary table)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .main import app


@app.command("provision")
def provision_command(
    ctx: typer.Context,
    users: Optional[List[str]] = typer.Argument(None, metavar="[USER]...", help="Users: userPrincipalName, object id or display name."),
    group: Optional[str] = typer.Option(None, "--group", metavar="GROUP", help="Provision every direct user member of this group (display name or object id)."),
    verify: bool = typer.Option(False, "--verify", help="Read each user back from Natoma's SCIM endpoint and compare its roles with what Entra decided (needs the SCIM token)."),
    scim_url: Optional[str] = typer.Option(None, "--scim-url", metavar="URL", help="With --verify: Natoma's SCIM tenant URL (default: scim.url in the config file, else the URL the job has saved)."),
    scim_token_file: Optional[Path] = typer.Option(None, "--scim-token-file", metavar="PATH", help="With --verify: read the SCIM token from this file (else $NATOMA_SCIM_TOKEN, or a hidden prompt)."),
    scim_token_stdin: bool = typer.Option(False, "--scim-token-stdin", help="With --verify: read the SCIM token from standard input."),
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
    Example: natoma-entra --app Natoma provision --group "Natoma Admins"
    """
    from ..graph.errors import UsageError
    from ..steps import provision as step
    from .context import execute, load_config
    from .options import scim_flags
    from .token import token_source

    g = ctx.obj
    users = list(users or [])
    if not users and not group:
        raise UsageError("no user to provision", fix="name users (provision USER [USER ...]) or a group (--group GROUP)")
    if (scim_url or scim_token_file or scim_token_stdin) and not verify:
        raise UsageError("--scim-url, --scim-token-file and --scim-token-stdin are for --verify",
                         fix="add --verify, or drop them")
    config = load_config(g, scim_flags(scim_url, None, scim_token_file, scim_token_stdin))
    token = token_source(config, use_stdin=scim_token_stdin, sandbox=g.sandbox)
    options = {"verify": verify}
    clock = getattr(g.sandbox_options, "clock", None) if g.sandbox else None
    if clock is not None:  # the sandbox runs on simulated time: pace and wait on it
        options.update(clock=clock.monotonic, sleep=clock.sleep)

    async def body(session):
        from ..results import Report

        report = Report(command="provision", dry_run=g.dry_run)
        report.app = (await session.app()).summary()
        try:
            plan = await step.plan(session, users, group)
        except step.PlanError as e:
            report.add(e.result)
            return report
        if g.dry_run:  # the command decides whether to send; the step only plans and applies
            results = step.planned(plan)
        else:
            results = await step.apply(session, plan, on_progress=progress_reporter(
                g, clock=clock.monotonic if clock is not None else None))
        for r in results:
            report.add(r)
        report.warnings.extend(w for w in plan.warnings if w not in report.warnings)
        return report

    execute(g, "provision", body, config=config, scim_token=token, options=options, renderer=render_text)


def progress_reporter(g, *, every: float = 10.0, clock=None, terminal: bool | None = None):
    """on_progress for several users: a bar in the spinner at a terminal, else one line at most every `every` s."""
    import time

    from rich.console import Console

    clock = clock or time.monotonic
    tty = Console(stderr=True).is_terminal if terminal is None else terminal
    last: list[float] = []

    def report(done: int, total: int, current: str) -> None:
        if total <= 1 or done >= total:
            return
        if tty:
            width = 20
            filled = int(width * done / total)
            g.say(f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} provisioning {current} "
                  "(5 per 10 s)")
            return
        now = clock()
        if not last or now - last[0] >= every:
            last[:] = [now]
            g.say(f"provisioning: {done} of {total} done, next {current} (Graph allows 5 per 10 s)")

    return report


def render_text(report, *, verbose: bool = False, quiet: bool = False) -> None:
    """What was sent (modified properties, provisioning steps), the verdict, the role, and Natoma's answer."""
    import sys

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from ..redact import redact
    from ..report import render

    if len(report.steps) > 1 and any(s.info.get("result") for s in report.steps):
        render_summary(report, verbose=verbose, quiet=quiet)
        return
    step = report.steps[0] if report.steps else None
    if step is None or step.status in ("planned",) or not step.info.get("result"):
        render(report, "text", verbose=verbose, quiet=quiet)
        return
    console = Console(file=sys.stdout, highlight=False, width=None if sys.stdout.isatty() else 160)
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


OUTCOME = {"provisioned": "provisioned", "in_sync": "already in sync", "not_assigned": "skipped: not assigned",
           "disabled": "disabled (no longer assigned)", "failed": "failed", "unknown": "unknown result"}


def render_summary(report, *, verbose: bool = False, quiet: bool = False) -> None:
    """Several users: one row each (user, outcome, role, Natoma, error and fix); values wrap, never cut."""
    import sys
    from collections import Counter

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from ..redact import redact

    console = Console(file=sys.stdout, highlight=False, width=None if sys.stdout.isatty() else 200)
    verified = any(isinstance(s.info.get("natoma"), dict) for s in report.steps)
    if not quiet:
        app = report.app or {}
        console.print(Text(redact(f"app: {app.get('displayName')} (appId {app.get('appId')})"), style="dim"))
    t = Table(show_edge=False, pad_edge=False)
    for col in ("user", "outcome", "role") + (("natoma",) if verified else ()) + ("error / fix",):
        t.add_column(col, overflow="fold")
    style = {"changed": "yellow", "unchanged": "green", "failed": "red"}
    for s in report.steps:
        if quiet and s.status == "unchanged":
            continue
        info = s.info
        outcome = OUTCOME.get(info.get("outcome"), info.get("outcome") or s.status)
        if info.get("errorCode") and info.get("outcome") not in ("provisioned", "in_sync"):
            outcome += f" ({info['errorCode']})"
        row = [redact(str(info.get("user") or "")), Text(outcome, style=style.get(s.status, "")),
               redact(str(info.get("role") or ""))]
        if verified:
            natoma = info.get("natoma")
            if not isinstance(natoma, dict):
                row.append("")
            elif not natoma.get("checked"):
                row.append(Text("not checked", style="red"))
            elif not natoma.get("found"):
                row.append("absent")
            else:
                roles = ", ".join(natoma.get("roles") or []) or "(none)"
                row.append(Text(roles + ("" if natoma.get("matches") is not False else " (differs)"),
                                style="green" if natoma.get("matches") else "red" if natoma.get("matches") is False else ""))
        row.append(Text(redact("; ".join(x for x in (s.error, f"fix: {s.fix}" if s.fix else None) if x)), style="red"))
        t.add_row(*row)
    console.print(t)
    counts = Counter(s.status for s in report.steps)
    line = (f"{len(report.steps)} users: {counts.get('changed', 0)} provisioned, {counts.get('unchanged', 0)} already in "
            f"sync, {counts.get('failed', 0)} failed or skipped")
    console.print(Text(line, style="bold red" if counts.get("failed") else "bold green"))
    for w in report.warnings:
        console.print(Text(redact(f"! {w}"), style="yellow"))
