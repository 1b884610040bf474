"""Text rendering of `provision`: what was sent, the verdict and the role (one user), or a summary table."""
from __future__ import annotations


def render_provision(report, console, *, verbose: bool = False, quiet: bool = False) -> None:
    """What was sent (modified properties, provisioning steps), the verdict, the role, and Natoma's answer."""
    from .. import inert
    from .console import table
    from .report import render

    if len(report.steps) > 1 and any(s.info.get("result") for s in report.steps):
        render_summary(report, console, verbose=verbose, quiet=quiet)
        return
    step = report.steps[0] if report.steps else None
    if step is None or step.status in ("planned",) or not step.info.get("result"):
        render(report, console, verbose=verbose, quiet=quiet)
        return
    info = step.info

    def line(text: str, style: str = "") -> None:
        console.print(inert.text(text, style))

    if not quiet:
        app = report.app or {}
        line(f"app: {app.get('displayName')} (appId {app.get('appId')})", "dim")
        modified = info.get("modifiedProperties") or []
        if modified:
            t = table("property", "old", "new", title="Modified properties", title_justify="left", show_edge=False)
            for m in modified:
                t.add_row(*(inert.cell(x if x is not None else "") for x in
                            (m.get("displayName"), m.get("oldValue"), m.get("newValue"))))
            console.print(t)
        steps = info.get("provisioningSteps") or []
        if steps:
            t = table("step", "type", "status", "description", title="Provisioning steps", title_justify="left",
                      show_edge=False)
            for s in steps:
                status = str(s.get("status") or "")
                style = {"success": "green", "skipped": "yellow", "failure": "red"}.get(status.lower(), "")
                t.add_row(inert.cell(s.get("name") or ""), inert.cell(s.get("type") or s.get("provisioningStepType") or ""),
                          inert.cell(status, style), inert.cell(s.get("description") or ""))
                if verbose and isinstance(s.get("details"), dict):
                    for k, v in s["details"].items():
                        t.add_row("", "", "", inert.cell(f"{k}: {v}", "dim"))
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
           "disabled": "disabled (no longer assigned)", "failed": "failed", "unknown": "unknown result",
           "not_sent": "not sent", "out_of_time": "no answer in time"}


def render_summary(report, console, *, verbose: bool = False, quiet: bool = False) -> None:
    """Several users: one row each (user, outcome, role, Natoma, error and fix); values wrap, never cut."""
    from collections import Counter

    from rich.text import Text

    from .. import inert
    from .console import table

    verified = any(isinstance(s.info.get("natoma"), dict) for s in report.steps)
    if not quiet:
        app = report.app or {}
        console.print(inert.text(f"app: {app.get('displayName')} (appId {app.get('appId')})", "dim"))
    t = table("user", "outcome", "role", *(("natoma",) if verified else ()), "error / fix", ids=("user",),
              show_edge=False, pad_edge=False)
    style = {"changed": "yellow", "unchanged": "green", "failed": "red"}
    for s in report.steps:
        if quiet and s.status == "unchanged":
            continue
        info = s.info
        outcome = OUTCOME.get(info.get("outcome"), info.get("outcome") or s.status)
        if info.get("errorCode") and info.get("outcome") not in ("provisioned", "in_sync"):
            outcome += f" ({info['errorCode']})"
        row = [inert.cell(info.get("user") or ""), inert.cell(outcome, style.get(s.status, "")),
               inert.cell(info.get("role") or "")]
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
                row.append(inert.cell(roles + ("" if natoma.get("matches") is not False else " (differs)"),
                                      "green" if natoma.get("matches") else "red" if natoma.get("matches") is False else ""))
        if info.get("outcome") == "not_sent":  # said once, below the table: the command that sends only them
            row.append(inert.cell("the run's time budget (--timeout) ended first", "red"))
        else:
            row.append(inert.cell("; ".join(x for x in (s.error, f"fix: {s.fix}" if s.fix else None) if x), "red"))
        t.add_row(*row)
    console.print(t)
    counts = Counter(s.status for s in report.steps)
    unsent = [s for s in report.steps if s.info.get("outcome") == "not_sent"]
    line = (f"{len(report.steps)} users: {counts.get('changed', 0)} provisioned, {counts.get('unchanged', 0)} already in "
            f"sync, {counts.get('failed', 0) - len(unsent)} failed or skipped"
            + (f", {len(unsent)} not sent" if unsent else ""))
    console.print(Text(line, style="bold red" if counts.get("failed") else "bold green"))
    if unsent:
        console.print(inert.text(f"{len(unsent)} user(s) not sent: the run's time budget (--timeout) ended before "
                                 f"Graph's rate let them go; {unsent[0].fix}", "bold red"))
    for w in report.warnings:
        console.print(inert.text(f"! {w}", "yellow"))
