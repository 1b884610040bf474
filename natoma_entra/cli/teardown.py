"""`natoma-entra teardown`: undo what setup made (natoma_entra/teardown.py), after showing the plan."""
from __future__ import annotations

import typer

from .flags import Yes
from .main import app


@app.command("teardown")
def teardown_command(
    ctx: typer.Context,
    yes: Yes = False,
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
    from ..steps.base import Options
    from .confirm import confirmer
    from .context import load_config, run_steps

    g = ctx.obj
    options = Options(delete_app=delete_app, delete_groups=delete_groups)
    run_steps(g, "teardown", teardown.steps_for(options), options, config=load_config(g),
              confirm=confirmer(g, "teardown", yes=yes, question="Tear down what is listed above?", upfront=True))
