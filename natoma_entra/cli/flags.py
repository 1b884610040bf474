"""The command-line flags several commands share (--group, --scim-url, --scope, the token flags, ...): declared once
here as `Annotated` types every command uses (same name, same help everywhere), and parsed and checked here, with no
Graph logic."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, List, Optional

import typer

from ..errors import UsageError
from ..natoma_roles import ROLE_VALUES
from .completion import SCOPES, scopes

GROUP_HELP = "A group and its role (repeatable); replaces the config file's [groups]."
SCIM_URL_HELP = ("Natoma's SCIM tenant URL (https; http only on loopback). Default: scim.url in the config file; the "
                 "commands that read Natoma (audit, provision --verify) else use the URL the job has saved.")
SCOPE_HELP = ("Who is provisioned: 'assigned' = sync only assigned users and groups (the guide's choice, the "
              "default), 'all' = everyone.")

# `group: Groups = None` in a command's signature: typer reads the option from the annotation
Groups = Annotated[Optional[List[str]], typer.Option("--group", "-g", metavar="ROLE=GROUP", help=GROUP_HELP)]
ScimUrl = Annotated[Optional[str], typer.Option("--scim-url", metavar="URL", help=SCIM_URL_HELP)]
Scope = Annotated[Optional[str], typer.Option("--scope", metavar="assigned|all", help=SCOPE_HELP,
                                              autocompletion=scopes)]
ScimTokenFile = Annotated[Optional[Path], typer.Option(
    "--scim-token-file", metavar="PATH",
    help="Read the SCIM token from this file (else $NATOMA_SCIM_TOKEN, or a hidden prompt at a terminal).")]
ScimTokenStdin = Annotated[bool, typer.Option("--scim-token-stdin", help="Read the SCIM token from standard input.")]
Rotate = Annotated[bool, typer.Option(
    "--rotate", help="Save the given SCIM token even when the saved one still passes the connection test.")]
Replace = Annotated[bool, typer.Option(
    "--replace", help="Remove a configured group's other assignments on this app (other roles, default access).")]
CreateGroups = Annotated[bool, typer.Option(
    "--create-groups", help="Create a configured group that does not exist, as a security group.")]
Yes = Annotated[bool, typer.Option(
    "--yes", "-y", help="Do it without asking. A run that removes or replaces something (--prune, --replace, --rotate, "
                        "teardown) shows its plan and asks at a terminal; without one it needs --yes.")]
Restart = Annotated[bool, typer.Option(
    "--restart", help="Restart provisioning: a fresh cycle, even when the job is running (the portal's 'Restart "
                      "provisioning').")]
PLAN_OUT_HELP = ("Write nothing: read and plan as --dry-run does, and save the plan to FILE (JSON) for "
                 "`natoma-entra apply FILE`, which applies exactly it or refuses when the tenant changed since.")


def _plan_out(ctx: typer.Context, value: Optional[Path]) -> Optional[Path]:
    """--plan-out FILE makes the run a dry run that saves its plan (cli/plan_out.py): said on the Application, so
    what a dry run changes (no question before a delete, a client that refuses writes) holds from here on."""
    if value is not None and not ctx.resilient_parsing and ctx.obj is not None:
        from .plan_out import check_writable

        check_writable(value)
        ctx.obj.plan_out, ctx.obj.dry_run = value, True
    return value


PlanOut = Annotated[Optional[Path], typer.Option("--plan-out", metavar="FILE", help=PLAN_OUT_HELP,
                                                 callback=_plan_out)]
Wait = Annotated[bool, typer.Option(
    "--wait", help="Then follow the provisioning cycle until it ends (bounded by --timeout): exit 0 when it succeeds, "
                   "1 on quarantine or failure, with the reason.")]


def parse_groups(values: list[str] | None) -> dict[str, list[str]] | None:
    """--group ROLE=GROUP, repeated -> {role: [group, ...]}; None when not given (the config file's [groups] stands)."""
    if not values:
        return None
    out: dict[str, list[str]] = {}
    for v in values:
        role, sep, group = v.partition("=")
        role, group = role.strip(), group.strip()
        if not sep or not group:
            raise UsageError(f"--group {v!r} is not ROLE=GROUP", fix="write e.g. --group admin='Natoma Admins'")
        if role not in ROLE_VALUES:
            raise UsageError(f"--group {v!r}: unknown role {role!r}", fix=f"use one of {', '.join(ROLE_VALUES)} (case-sensitive)")
        out.setdefault(role, []).append(group)
    return out


def scim_flags(url: str | None, scope: str | None, token_file: Path | None, token_stdin: bool) -> dict[str, Any]:
    """--scim-url/--scope/--scim-token-file checked and shaped as the config's [scim] table ({} when none given)."""
    if scope is not None and scope not in SCOPES:
        raise UsageError(f"--scope {scope!r} is not a scope", fix="use --scope assigned (the guide's choice) or --scope all")
    if token_file is not None and token_stdin:
        raise UsageError("--scim-token-file and --scim-token-stdin were both given", fix="give the token one way")
    scim = {k: v for k, v in {"url": url, "scope": scope, "token_file": token_file}.items() if v is not None}
    return {"scim": scim} if scim else {}


def desired_flags(group: list[str] | None, scim_url: str | None, scope: str | None) -> dict[str, Any]:
    """--group, --scim-url and --scope as config layers (the config file's values stand for what is not given):
    status and doctor take setup's inputs, so a drift check needs no config file."""
    return {"groups": parse_groups(group), **scim_flags(scim_url, scope, None, False)}
