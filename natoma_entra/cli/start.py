"""`natoma-entra start`: step 4b."""
from __future__ import annotations

from typing import Optional

import typer

from .main import app
from .flags import PlanOut, Restart, Wait


@app.command("start")
def start_command(
    ctx: typer.Context,
    restart: Restart = False,
    wait: Wait = False,
    reset_scope: Optional[str] = typer.Option(None, "--reset-scope", metavar="TEXT", help="With --restart: what to reset, comma-separated from Watermark, Escrows, QuarantineState, Full, ForceDeletes (default: 'Watermark, Escrows, QuarantineState')."),
    plan_out: PlanOut = None,
):
    """Step 4b: the provisioning job is running.

    Starts the job only when it is not running (paused, never started, in quarantine, or its schedule is off):
    Microsoft warns against calling start on a running job, so a running job is left alone. --restart forces a
    fresh cycle. Shows the job's state afterwards (status, schedule, last cycle, quarantine reason).

    Example: natoma-entra --app Natoma start --restart --reset-scope "Watermark, QuarantineState"
    """
    from ..errors import UsageError
    from ..steps.base import Options
    from ..steps.start import STEP, normalize_reset_scope
    from .context import run_steps

    g = ctx.obj
    if reset_scope is not None and not restart:
        raise UsageError("--reset-scope needs --restart", fix="add --restart, or drop --reset-scope")
    if reset_scope is not None:
        normalize_reset_scope(reset_scope)  # bad input fails before signing in
    run_steps(g, "start", [STEP], Options(restart=restart, reset_scope=reset_scope), wait=wait)
