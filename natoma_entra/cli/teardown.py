"""`natoma-entra teardown`: undo what setup made (natoma_entra/teardown.py), after showing the plan."""
from __future__ import annotations

from typing import List, Optional

import typer

from .flags import PlanOut, Yes
from .main import app


@app.command("teardown")
def teardown_command(
    ctx: typer.Context,
    yes: Yes = False,
    delete_app: bool = typer.Option(False, "--delete-app", help="Also delete the app, when `natoma-entra app create` made it."),
    delete_groups: bool = typer.Option(False, "--delete-groups", help="Also delete the configured groups that --create-groups made."),
    delete: Optional[List[str]] = typer.Option(None, "--delete", metavar="ID", help="Also delete this, which teardown keeps otherwise: a job id, a configured group or the app's appId (repeatable)."),
    plan_out: PlanOut = None,
):
    """Undo what setup made, in reverse: delete the provisioning job (and its mapping), empty the saved SCIM
    credentials, remove the assignments of the Natoma roles to the configured groups, disable then remove the roles.

    Only what natoma-entra can show it made is deleted (docs: teardown): roles made by hand, grants to anyone but the
    configured groups (and the roles they hold), jobs it did not create, and groups or an app it did not create, or
    that others depend on, stay; --delete ID deletes one of those on purpose. The plan is shown first; at a terminal
    it asks, elsewhere it needs --yes. Interrupted, run it again: it continues from what is left.

    Example: natoma-entra --config natoma-entra.toml teardown
    Example: natoma-entra --sandbox teardown --yes --delete-app --delete-groups
    """
    from .. import teardown
    from ..steps.base import Options
    from .confirm import confirmer
    from .context import load_config, run_steps

    g = ctx.obj
    options = Options(delete_app=delete_app, delete_groups=delete_groups, delete=tuple(delete or ()))
    run_steps(g, "teardown", teardown.steps_for(options), options, config=load_config(g),
              confirm=confirmer(g, "teardown", yes=yes, question="Tear down what is listed above?", upfront=True))
