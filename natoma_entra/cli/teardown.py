"""`natoma-entra teardown`: undo what setup made (natoma_entra/teardown.py), after showing the plan."""
from __future__ import annotations

import sys

import typer

from .main import app


@app.command("teardown")
def teardown_command(
    ctx: typer.Context,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do it without asking (needed when no terminal is attached)."),
    delete_app: bool = typer.Option(False, "--delete-app", help="Also delete the app, when `natoma-entra app create` made it."),
    delete_groups: bool = typer.Option(False, "--delete-groups", help="Also delete the configured groups that --create-groups made."),
):
    """Undo what setup made, in reverse: delete the provisioning job (and its mapping), remove the assignments of
    the Natoma roles to the configured groups, disable then remove the Natoma roles.

    Only what natoma-entra made is touched: roles made by hand, grants to anyone but the configured groups (and the
    roles they hold), other jobs, and groups or an app it did not create stay. The plan is shown first; at a terminal
    it asks, elsewhere it needs --yes. Interrupted, run it again: it continues from what is left.

    Example: natoma-entra --config natoma-entra.toml teardown
    Example: natoma-entra --sandbox teardown --yes --delete-app --delete-groups
    """
    from .. import teardown
    from ..graph.errors import UsageError
    from ..steps.base import Desired, Options
    from .context import execute, load_config

    g = ctx.obj
    config = load_config(g)
    options = Options(delete_app=delete_app, delete_groups=delete_groups)
    desired = Desired(config, options)

    def on_step(name: str) -> None:
        g.current_step = name

    def body(dry_run: bool, seen: list):
        async def run(session):
            report = await teardown.run(session, desired, dry_run=dry_run, on_step=on_step)
            seen.append(report)
            return report
        return run

    if g.dry_run:
        execute(g, "teardown", body(True, []), config=config, options=options, read_only=True)
        return
    if not yes:
        if g.output.value == "json":  # one JSON document per run: no plan-then-result pair
            raise UsageError("teardown with --output json does not ask first",
                             fix="pass --yes (see what it would do with --dry-run --output json first)")
        if not (_isatty(sys.stdin) and _isatty(sys.stderr)):
            raise UsageError("teardown deletes, and asks first: no terminal is attached to ask at",
                             fix="pass --yes (see what it would do with --dry-run first)")
        plans: list = []
        execute(g, "teardown", body(True, plans), config=config, options=options, read_only=True)
        if not plans or not any(s.pending for s in plans[-1].steps):
            return  # nothing to undo: the plan said so
        with g.spinner_paused():
            if not typer.confirm("Tear down what is listed above?", default=False, err=True):
                g.say("teardown: not confirmed; nothing was written")
                raise typer.Exit(1)
    execute(g, "teardown", body(False, []), config=config, options=options)


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
