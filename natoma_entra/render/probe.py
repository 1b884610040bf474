"""Text rendering of `probe`: per open behaviour, the answer this tenant gives and how it was settled."""
from __future__ import annotations

from .. import inert
from ..results import Report
from .console import table


def counts(report: Report) -> dict[str, int]:
    out = {"settled": 0, "write": 0, "open": 0}
    for s in report.steps:
        if s.info.get("settled"):
            out["settled"] += 1
        elif "not settled without a write" in (s.info.get("answer") or ""):
            out["write"] += 1
        else:
            out["open"] += 1
    return out


def summary_line(report: Report) -> str:
    c = counts(report)
    return (f"{len(report.steps)} behaviours: {c['settled']} settled, {c['write']} not settled without a write, "
            f"{c['open']} not settled here")


def render_probe(report: Report, console, *, verbose: bool = False, quiet: bool = False) -> None:
    from rich.text import Text

    if report.app and not quiet:
        console.print(inert.text(f"app: {report.app.get('displayName')} (appId {report.app.get('appId')})"))
    t = table("behaviour", "this tenant", "variant", "settled by")
    for s in report.steps:
        info = s.info
        if quiet and not info.get("settled"):
            continue
        variant = info.get("variant") or ("-" if info.get("settled") else "")
        lines = [info.get("answer") or ""]
        if verbose and info.get("evidence"):
            lines += [f"  {k}: {v}" for k, v in info["evidence"].items()]
        behaviour = inert.cell(f"{s.step} ({info.get('section')})")
        behaviour.append("\n").append(inert.cell(info.get("question") or "", "dim"))
        t.add_row(behaviour, inert.cell_lines(lines), inert.cell(variant), inert.cell(_short(info.get("request") or "")))
    console.print(t)
    console.print(inert.text(summary_line(report)))
    if not quiet:
        console.print(Text("For a bug report: natoma-entra -o json --trace FILE probe, and attach both.", style="dim"))


def _short(request: str) -> str:
    """A request with its ids shortened for the table ({sp}, {job}); -o json keeps them whole."""
    import re

    request = re.sub(r"/servicePrincipals/[^/?]+", "/servicePrincipals/{sp}", request)
    return re.sub(r"/jobs/(?!validateCredentials)[^/?]+", "/jobs/{job}", request)
