"""The command-line flags several commands share (--group, --scim-url, --scope, the token flags): parsed and checked
here, with no Graph logic."""
from __future__ import annotations

from ..errors import UsageError
from ..natoma_roles import ROLE_VALUES


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


def scim_flags(url: str | None, scope: str | None, token_file, token_stdin: bool) -> dict:
    """--scim-url/--scope/--scim-token-file checked and shaped as the config's [scim] table ({} when none given)."""
    if scope is not None and scope not in ("assigned", "all"):
        raise UsageError(f"--scope {scope!r} is not a scope", fix="use --scope assigned (the guide's choice) or --scope all")
    if token_file is not None and token_stdin:
        raise UsageError("--scim-token-file and --scim-token-stdin were both given", fix="give the token one way")
    scim = {k: v for k, v in {"url": url, "scope": scope, "token_file": token_file}.items() if v is not None}
    return {"scim": scim} if scim else {}


# The inputs status and doctor share with setup, so a drift check needs no config file (same flags, same help).
GROUP_HELP = "A group and its role (repeatable); replaces the config file's [groups]."
SCIM_URL_HELP = "Natoma's SCIM tenant URL (default: scim.url in the config file)."
SCOPE_HELP = "'assigned' = sync only assigned users and groups (default), 'all' = everyone."


def desired_flags(group: list[str] | None, scim_url: str | None, scope: str | None) -> dict:
    """--group, --scim-url and --scope as config layers (the config file's values stand for what is not given)."""
    return {"groups": parse_groups(group), **scim_flags(scim_url, scope, None, False)}
