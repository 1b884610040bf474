"""Text rendering of `audit`: counts, then a table of the users that differ (every user with --all)."""
from __future__ import annotations


def render_audit(report, console, *, verbose: bool = False, quiet: bool = False, show_all: bool = False) -> None:
    """Counts, then a table of the users that differ (every user with --all); values wrap, never cut."""
    from rich.table import Table

    from .. import inert
    from ..audit import core
    from .report import render

    step = report.steps[0] if report.steps else None
    if step is None or step.status == "failed" or "counts" not in step.info:
        render(report, console, verbose=verbose, quiet=quiet)
        return
    info = step.info

    def line(text: str, style: str = "") -> None:
        console.print(inert.text(text, style), soft_wrap=True)

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
    if info.get("duplicateUserNames"):
        summary += f", userNames held twice in Natoma (case aside): {len(info['duplicateUserNames']):,}"
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
            t.add_row(inert.cell(u["user"]), inert.cell(core.LABEL[u["verdict"]], style.get(u["verdict"], "red")),
                      inert.cell(exp), inert.cell(have))
        console.print(t)
    for w in step.warnings:
        line(f"! {w}", "yellow")
    if drifted and not quiet:
        line("fix: provision the users that differ (natoma-entra provision USER ... --verify), or wait for the next "
             "cycle; for 'will fail', keep each user in one Natoma role group or map roles with "
             "`natoma-entra mapping --multi-role`", "dim")
