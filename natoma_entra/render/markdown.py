"""A Report as Markdown (`-o markdown`), made for a pull-request comment and a GitHub job summary: a heading, a table
per step with each change marked + / ~ / -, long lists folded in <details>, the exit code said in words.

Every value from the tenant goes through inert.markdown() (secrets masked, control characters as visible escapes,
Markdown's characters escaped, no HTML); a code block (the mapping's diff) holds lines cleaned by inert.clean() in a
fence longer than any run of backticks in them. Only our own words go inside HTML tags (<summary>).
"""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable

from .. import inert
from ..results import Change, Report, StepResult
from .values import info_value

MARK = {"create": "+", "update": "~", "delete": "-", "none": "="}
FOLD = 10  # rows shown before the rest are folded into <details>
MEANING = {0: "done", 1: "a step failed", 2: "bad usage or input; nothing was written", 3: "changes pending",
           4: "the saved plan was refused; nothing was written", 130: "interrupted"}


def md(value: Any) -> str:
    return inert.markdown(value)


def html(value: Any) -> str:
    """A value inside an HTML tag (<summary>): Markdown is not read there, so entities only."""
    import html as _html

    return _html.escape(inert.clean_cell(value), quote=False)


def table(header: Iterable[str], rows: list[list[str]], *, what: str = "rows") -> list[str]:
    """A Markdown table (cells already escaped); past FOLD rows the rest is folded into <details>."""
    head = list(header)
    top = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines = top + ["| " + " | ".join(r) + " |" for r in rows[:FOLD]]
    if len(rows) > FOLD:
        lines += ["", f"<details><summary>{len(rows) - FOLD} more {what}</summary>", ""]
        lines += top + ["| " + " | ".join(r) + " |" for r in rows[FOLD:]]
        lines += ["", "</details>"]
    return lines + [""]


def folded(summary: str, body: list[str]) -> list[str]:
    """body inside <details> with our own summary words."""
    return [f"<details><summary>{summary}</summary>", "", *body, "", "</details>", ""]


def code_block(lines: list[str], lang: str = "text") -> list[str]:
    cleaned = [inert.clean(line) for line in lines]
    longest = max((len(run) for line in cleaned for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + lang, *cleaned, fence]


def exit_line(report: Report) -> list[str]:
    """The exit code in words (a dry run's 0 goes without saying), and what stopped the run with its fix."""
    code = report.exit_code
    out = [] if report.dry_run and not code else [f"**Exit {code}** ({MEANING.get(code, 'failed')})", ""]
    if report.error:
        out += [f"**Error**: {md(report.error)}" + (f"  \nFix: {md(report.fix)}" if report.fix else ""), ""]
    return out


def app_line(report: Report) -> list[str]:
    app = report.app or {}
    if not app.get("displayName"):
        return []
    return [f"App: **{md(app['displayName'])}** (appId {md(app.get('appId', ''))})", ""]


def _change_row(c: Change) -> list[str]:
    verb = c.detail.get("verb") or {"create": "create", "update": "update", "delete": "delete",
                                    "none": "unchanged"}[c.action]
    if c.action == "none":
        verb = "unchanged"
    return [MARK[c.action], md(f"{verb}: {c.target}"), md(c.detail.get("why") or "")]


def _step_section(s: StepResult, *, dry_run: bool) -> list[str]:
    out = [f"#### {md(s.step)}: {md(s.status)}", ""]
    pending, same = [c for c in s.changes if c.action != "none"], [c for c in s.changes if c.action == "none"]
    if pending:
        header = "planned change" if dry_run else ("change" if s.made else "not made")
        out += table(["", header, "why"], [_change_row(c) for c in pending], what="changes")
    if same:
        rows = table(["", "in place", "why"], [_change_row(c) for c in same], what="in place")
        out += rows if not pending and len(same) <= FOLD else folded(f"{len(same)} in place", rows)
    diffs = [line for c in pending for line in (c.detail.get("diff") or [])]
    if diffs:
        out += folded("the change as a diff", code_block(diffs, "diff"))
    info = [f"{md(k)}: {md(info_value(k, v))}" for k, v in s.info.items()
            if k != "state" and v is not None and not isinstance(v, (dict, list))]
    if info:
        out += [" · ".join(info), ""]
    out += [f"- **warning**: {md(w)}" for w in s.warnings] + ([""] if s.warnings else [])
    if s.error:
        out += [f"**error**: {md(s.error)}" + (f"  \nFix: {md(s.fix)}" if s.fix else ""), ""]
    return out


def _heading(report: Report, what: str) -> list[str]:
    return [f"### natoma-entra {md(report.command)}: {what}", ""]


def render_report(report: Report) -> list[str]:
    """A plan (a dry run, --plan-out, `show FILE`) or what a run did: a summary table, then each step's changes."""
    changes = sum(len(s.made) for s in report.steps)
    if report.dry_run:
        what = "plan" if changes else "plan: nothing to do"
    else:
        what = "failed" if not report.ok else ("done" if changes else "nothing to do")
    out = _heading(report, what) + app_line(report)
    rows = [[md(s.step), md(s.status), str(len(s.made)) if s.made else "-"] for s in report.steps]
    if rows:
        out += table(["step", "result", "changes"], rows, what="steps")
    for s in report.steps:
        if s.changes or s.warnings or s.error:
            out += _step_section(s, dry_run=report.dry_run)
    out += [f"- **warning**: {md(w)}" for w in report.warnings if not any(w in s.warnings for s in report.steps)]
    if report.dry_run:
        out += [f"Dry run: nothing was written ({changes} change{'s' if changes != 1 else ''} planned).", ""]
    return out + exit_line(report)


def render_status(report: Report) -> list[str]:
    states = [s.info.get("state", "?") for s in report.steps]
    what = "in place" if states and all(x == "in place" for x in states) else (
        "failed" if "failed" in states else "not in place")
    out = _heading(report, what) + app_line(report)
    rows = []
    for s in report.steps:
        lines = [f"{MARK[c.action]} {c.target}" for c in s.pending]
        lines += [f"{k}: {info_value(k, v)}" for k, v in s.info.items()
                  if k != "state" and v is not None and not isinstance(v, (dict, list))]
        lines += [f"warning: {w}" for w in s.warnings] + ([f"error: {s.error}"] if s.error else [])
        lines += [f"fix: {s.fix}"] if s.fix else []
        rows.append([md(s.step), md(s.info.get("state", "?")), "<br>".join(md(x) for x in lines) or "-"])
    out += table(["step", "state", "what differs / details"], rows, what="steps")
    return out + exit_line(report)


def render_doctor(report: Report) -> list[str]:
    from .doctor import summary_line

    out = _heading(report, summary_line(report)) + app_line(report)
    rows = [[md(s.step), md(s.info.get("verdict", "?")), md(s.info.get("summary") or ""), md(s.fix or "")]
            for s in report.steps]
    out += table(["check", "verdict", "summary", "fix"], rows, what="checks")
    for s in report.steps:
        details = [str(d) for d in s.info.get("details") or []]
        if details:
            body = [f"- {md(d)}" for d in details]
            out += folded(f"{html(s.step)}: {len(details)} detail{'s' if len(details) != 1 else ''}", body)
    return out + exit_line(report)


def render_audit(report: Report) -> list[str]:
    from ..audit import core

    step = report.steps[0] if report.steps else None
    if step is None or "counts" not in step.info:
        return render_report(report)
    info = step.info
    drifted = info.get("state") == "drifted"
    out = _heading(report, "differences found" if drifted else "Natoma matches Entra") + app_line(report)
    counts = info["counts"]
    out += table(["verdict", "users"], [[md(core.LABEL[v]), str(counts.get(v, 0))] for v in core.VERDICTS],
                 what="verdicts")
    differ = [u for u in info.get("users") or [] if u.get("verdict") in core.DIFFERS]
    if differ:
        def shown(v: Any) -> str:
            return "-" if v is None else (", ".join(v) or "(no role)")

        out += table(["user", "verdict", "Entra will send", "Natoma holds"],
                     [[md(u["user"]), md(core.LABEL[u["verdict"]]), md(shown(u.get("expected"))),
                       md(shown(u.get("natoma")))] for u in differ], what="users")
    out += [f"- **warning**: {md(w)}" for w in step.warnings] + ([""] if step.warnings else [])
    return out + exit_line(report)


RENDERERS: dict[str, Callable[[Report], list[str]]] = {"status": render_status, "doctor": render_doctor,
                                                       "audit": render_audit}


def to_markdown(report: Report) -> str:
    """The whole document (ends with one line break)."""
    lines = RENDERERS.get(report.command, render_report)(report)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"
