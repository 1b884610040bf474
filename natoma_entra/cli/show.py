"""`natoma-entra show FILE`: a saved plan (--plan-out) or a JSON report (-o json) shown again, as text, Markdown or
JSON, without signing in: for a pull-request comment made from a plan artifact, and the GitHub Action's job
summary made from the report it wrote."""
from __future__ import annotations

from pathlib import Path

import typer

from .main import app

MAX_REPORT_BYTES = 64 * 1024 * 1024


@app.command("show")
def show_command(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FILE", help="A plan file (--plan-out) or a JSON report (--output json)."),
):
    """Show a saved plan or a JSON report in the chosen output (-o text, markdown or json); reads no tenant.

    A plan file is checked as apply checks it first (an altered file, or one made in a plan format this version
    cannot read, is refused with exit 4) and shown as its dry run was. A JSON report is shown as its run showed it,
    with its exit code said in Markdown. Exits 0 once shown.

    Example: natoma-entra -o markdown show plan.json > comment.txt
    Example: natoma-entra -o markdown show report.json >> "$GITHUB_STEP_SUMMARY"
    """
    import json

    from pydantic import ValidationError

    from ..errors import UsageError
    from ..files import read_capped_text
    from ..results import Report

    g = ctx.obj
    fix = "give a file written by --plan-out or by --output json"
    text = read_capped_text(file, MAX_REPORT_BYTES, what="the file", fix=fix)
    try:
        doc = json.loads(text)
    except ValueError:
        raise UsageError(f"{file} is not JSON", fix=fix) from None
    # a report has no "format": the plan format (and the steps its operations are) is loaded only for a plan, which
    # keeps the Action's job summary (a report shown as Markdown) about 0.1 s quicker
    plan_file = _plan_file() if isinstance(doc, dict) and "format" in doc else None
    if plan_file is not None and doc.get("format") == plan_file.FORMAT:
        try:
            report = plan_file.as_report(plan_file.load(file))
        except plan_file.PlanRefused as e:
            e.command = "show"
            raise
    else:
        try:
            report = Report.model_validate(doc)
        except ValidationError:
            raise UsageError(f"{file} is neither a natoma-entra plan nor a JSON report", fix=fix) from None
    if g.output.value == "markdown":
        from ..render.markdown import to_markdown

        g.out.file.write(to_markdown(report))
    elif g.output.value == "json":
        from ..render.report import to_json

        g.out.file.write(to_json(report) + "\n")
    else:
        text_renderer(report.command)(report, g.out, verbose=g.verbose, quiet=g.quiet)


def _plan_file():
    from .. import plan_file

    return plan_file


def text_renderer(command: str):
    """The renderer the command's own run uses for text (the generic one for the others)."""
    if command == "status":
        from ..render.status import render_status

        return render_status
    if command == "doctor":
        from ..render.doctor import render_doctor

        return render_doctor
    if command == "audit":
        from ..render.audit import render_audit

        return render_audit
    if command == "setup":
        from ..render.summary import render_summary

        return render_summary
    from ..render.report import render

    return render
