"""`natoma-entra export`: the natoma-entra.toml that reproduces a tenant configured by hand (natoma_entra/export.py)."""
from __future__ import annotations

from typing import Optional

import typer

from .main import app


@app.command("export")
def export_command(
    ctx: typer.Context,
    write: Optional[str] = typer.Option(None, "--write", metavar="PATH", help="Write the config to PATH instead of printing it (never over an existing file without --force; - prints it)."),
    force: bool = typer.Option(False, "--force", help="With --write: replace an existing file."),
):
    """Read the tenant (app, roles, assignments, job, credentials, mapping) and print the config that reproduces it.

    The groups of each role by display name (object id where a name is not unique), the SCIM URL and scope. What the
    config cannot express (grants to users, groups of other roles, other mappings, masked values) is said in comments.
    Reads only. Then `natoma-entra --config natoma-entra.toml status --exit-code` exits 0 on that tenant.

    Example: natoma-entra --app Natoma --tenant contoso.onmicrosoft.com export --write natoma-entra.toml
    """
    from ..errors import UsageError
    from .context import execute, load_config

    g = ctx.obj
    if force and write is None:
        raise UsageError("--force only goes with --write PATH", fix="add --write PATH, or drop --force")
    from ..export import check_target

    # before the tenant is read; write_file checks again as it writes
    target = check_target(write, force=force) if write is not None else None
    config = load_config(g)

    async def body(session):
        from .. import export
        from ..results import Report, StepResult

        found = await export.read(session)
        text = export.to_toml(found)
        info = {"config": text}
        if target is not None:
            export.write_file(target, text, force=force)
            info["written"] = str(target)
        report = Report(command="export", app=(await session.app()).summary())
        report.add(StepResult(step="export", status="unchanged", info=info, warnings=[]))
        return report

    def render(report, console, *, verbose: bool, quiet: bool) -> None:
        info = report.steps[0].info if report.steps else {}
        if "written" in info:
            if not quiet:
                g.say(f"wrote {info['written']}", style="green")
        elif "config" in info:
            console.file.write(info["config"])

    execute(g, "export", body, config=config, renderer=render)
