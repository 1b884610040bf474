"""`natoma-entra app create NAME`: the Natoma enterprise app, from the non-gallery application template."""
from __future__ import annotations

import typer

from .main import app
from .flags import PlanOut
from .help_format import HELP_SETTINGS, NatomaGroup

app_app = typer.Typer(help="The Natoma enterprise app itself: create it on a tenant that has none.\n\n"
                           "Example: natoma-entra app create Natoma",
                      no_args_is_help=True, rich_markup_mode=None, context_settings=HELP_SETTINGS, cls=NatomaGroup)
app.add_typer(app_app, name="app")


@app_app.command("create")
def create(ctx: typer.Context, name: str = typer.Argument(..., metavar="NAME", help="The enterprise app's display name."),
           plan_out: PlanOut = None):
    """Create the enterprise app NAME from the non-gallery application template, unless an app has that name.

    Waits (bounded, said on stderr) until the application and its service principal are readable. A second run finds
    the app and changes nothing; two apps with the name are an error that lists both. Needs Application.ReadWrite.All.

    Example: natoma-entra app create Natoma
    Example: natoma-entra --sandbox --dry-run app create Natoma
    """
    from ..errors import UsageError
    from ..steps.app import STEP
    from ..steps.base import Options
    from .context import load_config, run_steps

    g = ctx.obj
    if not name.strip():
        raise UsageError("the app name is empty", fix="give the display name: natoma-entra app create Natoma")
    config = load_config(g, {"app": name.strip()})
    run_steps(g, "app", [STEP], Options(create_app=True), config=config)
