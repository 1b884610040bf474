"""`natoma-entra probe`: read-only, the requests that settle the Graph behaviours docs/graph-assumptions.md leaves
open, and which answer this tenant gives (natoma_entra/probe.py)."""
from __future__ import annotations

from typing import Optional

import typer

from .flags import SCIM_URL_HELP
from .main import app


@app.command("probe")
def probe_command(
    ctx: typer.Context,
    scim_url: Optional[str] = typer.Option(None, "--scim-url", metavar="URL", help=SCIM_URL_HELP),
):
    """Read-only: which answer this tenant gives where Microsoft's docs are silent, for a bug report.

    Sends only reads (and two connection tests with a deliberately wrong token, which change nothing) and prints,
    per open behaviour (natoma-entra docs graph-assumptions), the answer this tenant gives (the sandbox variant it
    plays), or "not settled without a write". Run it once on a real tenant, with -o json and --trace FILE to attach
    both.

    Example: natoma-entra --app Natoma -o json --trace probe-trace.jsonl probe > probe.json
    """
    from ..probe import run_probe
    from ..render.probe import render_probe
    from .context import execute, load_config
    from .flags import desired_flags

    g = ctx.obj
    config = load_config(g, desired_flags(None, scim_url, None))
    execute(g, "probe", run_probe, config=config, renderer=render_probe)  # read-only: it writes nothing
