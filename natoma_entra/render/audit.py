"""Text rendering of `audit`: the counts first, then the users that differ, at most listing.SHOWN of them and a line
counting the rest ("-o json for all"); `--all` lists every user, written as it goes (20,000 users in well under 2 s:
benchmarks/bench_audit_text.py)."""
from __future__ import annotations


def render_audit(report, console, *, verbose: bool = False, quiet: bool = False, show_all: bool = False) -> None:
    """Counts, then a table of the users that differ (every user with --all); values wrap, never cut."""
    from .. import inert
    from ..audit import core
    from ..listing import SHOWN, more
    from .console import table
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
    rows = [u for u in info["users"] if show_all or u["verdict"] in core.DIFFERS]  # sorted: verdict, then name
    if rows and not (quiet and not drifted):
        t = table("user", "verdict", "Entra will send", "Natoma holds", ids=("user",), show_edge=False,
                  pad_edge=False)
        if show_all:  # every user asked for: written as it goes, never laid out whole
            t.stream(console, (inert.clean_row(_cells(u)) for u in rows))
        else:
            style = {core.OK: "green", core.OUT_OF_SCOPE_INACTIVE: "dim"}
            for u in rows[:SHOWN]:
                user, verdict, exp, have = _cells(u)
                t.add_row(inert.cell(user), inert.cell(verdict, style.get(u["verdict"], "red")), inert.cell(exp),
                          inert.cell(have))
            console.print(t)
            if len(rows) > SHOWN:
                line(more(len(rows) - SHOWN) + "; --all lists every user", "dim")
    for w in step.warnings:
        line(f"! {w}", "yellow")
    if drifted and not quiet:
        line("fix: provision the users that differ (natoma-entra provision USER ... --verify), or wait for the next "
             "cycle; for 'will fail', keep each user in one Natoma role group or map roles with "
             "`natoma-entra mapping --multi-role`", "dim")


def _cells(u: dict) -> tuple[str, str, str, str]:
    """One user's row: the user, the verdict, the roles Entra will send, the roles Natoma holds."""
    from ..audit import core

    exp = "-" if u["expected"] is None else (", ".join(u["expected"]) or "(no role)")
    have = "-" if u["natoma"] is None else (", ".join(u["natoma"]) or "(no role)")
    if u["natoma"] is not None and u.get("active") is False:
        have += " (inactive)"
    return u["user"], core.LABEL[u["verdict"]], exp, have
