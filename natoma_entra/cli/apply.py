"""`natoma-entra apply FILE`: apply exactly a plan saved by --plan-out, or refuse (exit 4) when the tenant changed since
(natoma_entra/plan_file.py; the executor's apply_saved does the reading, checking and applying)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from .main import app
from .flags import ScimTokenFile, ScimTokenStdin

if TYPE_CHECKING:
    from ..results import Report
    from ..session import Session


@app.command("apply")
def apply_command(
    ctx: typer.Context,
    plan: Path = typer.Argument(..., metavar="FILE", help="The plan file a writing command's --plan-out wrote."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Apply a plan that deletes without asking (needed when no "
                                                        "terminal is attached, or with --output json)."),
    scim_token_file: ScimTokenFile = None,
    scim_token_stdin: ScimTokenStdin = False,
):
    """Apply exactly the plan in FILE (made by setup, roles, assign, mapping, credentials, start, teardown or app
    create with --plan-out FILE), or refuse when it cannot be applied as saved.

    Refused (exit 4, nothing written, one line per reason): the file was altered, was made in a plan format this
    version cannot read, is for another tenant or app, or an object it was made from changed since (the app, its
    roles, the assignments, the groups, the job and its schema, the saved credentials). Otherwise it checks the
    permissions before the first write, asks before a plan that deletes (or needs --yes), and applies the saved
    operations. The SCIM token is never in a plan: give it again when the plan saves credentials. --dry-run checks
    that the plan still applies, writing nothing.

    Example: natoma-entra setup --plan-out plan.json && natoma-entra apply plan.json
    Example: NATOMA_SCIM_TOKEN=... natoma-entra apply --dry-run plan.json
    """
    import dataclasses

    from .. import executor, plan_file
    from ..steps.base import Desired
    from .confirm import confirmer
    from .context import backend_of, execute, load_config, scim_token
    from .flags import scim_flags
    from .token import token_given

    g = ctx.obj
    saved = plan_file.load(plan)
    # sign-in and the token's source from this run (flags, the config file, the environment); what is wanted from the
    # plan, which must be for the app this run is pointed at
    here = load_config(g, scim_flags(None, None, scim_token_file, scim_token_stdin))
    plan_file.check_target(saved, here)
    config = plan_file.desired_config(saved, here)
    backend_of(g).check_config(config)
    options = dataclasses.replace(saved.options, token_given=token_given(config, use_stdin=scim_token_stdin))
    steps = plan_file.steps_for(saved.command, options)
    desired = Desired(config, options)
    # asked only when the plan removes or replaces something (the executor decides), as the command itself would ask
    confirm = confirmer(g, "apply", yes=yes, question="Apply the plan listed above?")

    def on_step(name: str) -> None:
        g.current_step = name

    async def body(session: "Session") -> "Report":
        return await executor.apply_saved(session, saved, steps, desired, dry_run=g.dry_run, confirm=confirm,
                                          on_step=on_step)

    def renderer(report: "Report", console, *, verbose: bool = False, quiet: bool = False) -> None:
        from .. import inert
        from ..render.report import render

        render(report, console, verbose=verbose, quiet=quiet, footer=False)
        console.print(inert.text(closing_line(report, saved.command)))

    execute(g, "apply", body, config=config, scim_token=scim_token(g, config, use_stdin=scim_token_stdin),
            renderer=renderer, writes=True)


def closing_line(report: "Report", command: str) -> str:
    failed = next((s.step for s in report.steps if s.status == "failed"), None)
    if failed is not None:
        return (f"stopped: {failed} failed (see its error and fix above); once it is fixed, plan again "
                f"(natoma-entra {command if command != 'app' else 'app create NAME'} --plan-out FILE) and apply "
                "that plan")
    if not report.ok:
        return f"failed: {report.error or 'see above'}"
    if report.dry_run:
        return "dry run: the plan still applies; nothing was written"
    if all(s.status == "unchanged" for s in report.steps):
        return "nothing to do: the plan holds no change"
    return "done: the saved plan was applied"
