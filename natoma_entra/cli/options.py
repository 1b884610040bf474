"""Option parsing shared by several commands (no Graph logic here)."""
from __future__ import annotations

from ..graph.errors import UsageError
from ..roles import ROLE_VALUES


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
