"""`natoma-entra version`: the versions a bug report needs (natoma-entra, the Graph SDK, azure-identity, the other
key dependencies, Python and the platform), as `az version` and `gh version` give them; `--version` stays the one
line."""
from __future__ import annotations

import typer

from .main import app

# The installed distributions a report should name: the Graph SDK and its kiota layers, sign-in, HTTP, the CLI's own
# frameworks and Natoma's SCIM client (pyproject.toml's dependencies, by distribution name).
KEY_PACKAGES = ("msgraph-sdk", "msgraph-core", "microsoft-kiota-abstractions", "microsoft-kiota-http",
                "microsoft-kiota-authentication-azure", "azure-identity", "azure-core", "msal", "httpx", "httpx2",
                "typer", "click", "rich", "pydantic", "scim2-client", "scim2-models", "scim2-server")


def versions() -> dict:
    """What `version -o json` prints: read from the installed distributions' metadata (nothing is imported)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from .. import __version__

    def installed(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return {"natoma-entra": __version__,
            "python": {"version": platform.python_version(), "implementation": platform.python_implementation()},
            "platform": platform.platform(),
            "dependencies": {name: installed(name) for name in KEY_PACKAGES}}


@app.command("version")
def version_command(ctx: typer.Context) -> None:
    """The versions of natoma-entra, the Graph SDK, azure-identity, the other key dependencies and Python.

    For a bug report (with `probe -o json` and a `--trace` file): `natoma-entra version -o json`. `--version` prints
    natoma-entra's version alone. Reads the installed packages' metadata; contacts nothing.

    Example: natoma-entra version
    Example: natoma-entra version -o json
    """
    from ..inert import clean, dumps

    g = ctx.obj
    found = versions()
    if g.output.value == "json":
        g.out.file.write(dumps({"command": "version", "ok": True, **found}, indent=2) + "\n")
        return
    python = found["python"]
    lines = [f"natoma-entra {found['natoma-entra']}",
             f"Python {python['version']} ({python['implementation']})",
             f"platform {found['platform']}", ""]
    width = max(len(name) for name in found["dependencies"])
    lines += [f"{name:<{width}}  {v or 'not installed'}" for name, v in found["dependencies"].items()]
    g.out.file.write("".join(clean(line) + "\n" for line in lines))
