"""A Report as text (people) or JSON (machines): the lines every command's text output is made of."""
from __future__ import annotations

from .. import inert
from ..results import Change, Report, StepResult
from .values import info_value

_MARK = {"create": "+", "update": "~", "delete": "-", "none": "="}
_STATUS_STYLE = {"unchanged": "green", "changed": "yellow", "planned": "cyan", "failed": "red", "skipped": "dim"}


def to_json(report: Report) -> str:
    return inert.dumps(report.model_dump(mode="json"), indent=2)


def change_line(change: Change, dry_run: bool) -> str:
    """`+ created: X (why)`, `~ would update: X (why)`; a change that names its own verb (detail "verb" and "done",
    e.g. save/saved) says what it does instead of create/update."""
    verb = {"create": "create", "update": "update", "delete": "delete", "none": "unchanged"}[change.action]
    if change.action != "none":
        own, done = change.detail.get("verb"), change.detail.get("done")
        if own and done:
            verb = ("would " + own) if dry_run else done
        else:
            verb = ("would " + verb) if dry_run else {"create": "created", "update": "updated", "delete": "deleted"}[verb]
    why = change.detail.get("why")
    return f"{_MARK[change.action]} {verb}: {change.target}" + (f" ({why})" if why else "")


def step_lines(step: StepResult, dry_run: bool, verbose: bool, quiet: bool = False) -> list[tuple[str, str]]:
    """(style, text) lines for one step; quiet keeps only changes, warnings and errors."""
    lines = [(f"bold {_STATUS_STYLE[step.status]}", f"{step.step}: {step.status}")]
    for c in step.changes:
        if c.action == "none" and (quiet or (not verbose and len(step.changes) > 6)):
            continue
        # a failed step's changes may not have been made: say what it set out to do, not "created"
        lines.append(("", "  " + change_line(c, dry_run or step.status == "failed")))
        diff = c.detail.get("diff")
        if diff and (dry_run or verbose):
            lines.extend(("dim", "      " + d) for d in diff)
    for k, v in step.info.items():
        if quiet or k in ("state",) or v is None or isinstance(v, (dict, list)):
            continue
        lines.append(("dim", f"  {k}: {info_value(k, v)}"))
    for w in step.warnings:
        lines.append(("yellow", f"  ! {w}"))
    if step.error:
        lines.append(("red", f"  error: {step.error}"))
    if step.fix:
        lines.append(("red", f"  fix: {step.fix}"))
    return lines


def render(report: Report, console, *, verbose: bool = False, quiet: bool = False, footer: bool = True) -> None:
    """Each step's lines on `console`; `footer` says "dry run: nothing was written" once, at the end. Every line is
    printed inert (natoma_entra/inert.py): names and messages from the tenant are data, never control or markup."""
    from rich.text import Text

    if report.app and not quiet:
        console.print(inert.text(f"app: {report.app.get('displayName')} (appId {report.app.get('appId')})", "dim"))
    for step in report.steps:
        if quiet and step.status in ("unchanged", "skipped"):
            continue
        for style, text in step_lines(step, report.dry_run, verbose, quiet):
            console.print(inert.text(text, style))
    if footer and report.dry_run and not quiet:
        console.print(Text("dry run: nothing was written", style="cyan"))
