"""--create-groups: a configured group that does not exist is created as a security group, then assigned. These are
operations of the assign step (steps/assignments.py): its read resolves the configured groups, a missing one becomes a
planned group here, its plan creates it before the assignments that need it, its apply creates it and assigns the id
Graph gave it.

Graph facts (Microsoft Graph docs group-post-groups.md, group.md):
- POST /groups {displayName, mailEnabled, mailNickname, securityEnabled} (all four required) -> 201 with the group.
  A security group: securityEnabled true, mailEnabled false, no groupTypes.
- mailNickname: at most 64 characters, ASCII, none of @ () \\ [] " ; : <> , or space.
- A new group replicates: the assignment that names it may answer 404 for a while (the assign step waits).

A group this tool creates carries MARK in its description: `teardown --delete-groups` deletes only such a group.
"""
from __future__ import annotations

import re

from ..natoma_roles import DISPLAY_NAME

MARK = "Created by natoma-entra (--create-groups)."
PLANNED = "planned:"  # the id of a group planned, not created yet


def mail_nickname(name: str) -> str:
    """From the display name: ASCII letters, digits, '-', '_' and '.', at most 64 (group.md's rules)."""
    nick = re.sub(r"[^A-Za-z0-9._-]", "", name)[:64].strip(".")
    return nick or "natoma-group"


def made_by_us(group: dict) -> bool:
    return MARK in (group.get("description") or "")


def planned_group(name: str) -> dict:
    """A group --create-groups is to create. Its id is the name as Graph's `eq` compares it (case-insensitively:
    docs concepts/query-parameters.md, "filter"), so two spellings of one name in the config are one group, never a
    case-variant twin."""
    return {"id": PLANNED + name.casefold(), "displayName": name, "securityEnabled": True, "mailEnabled": False,
            "groupTypes": [], "planned": True}


def is_planned(group_or_id) -> bool:
    gid = group_or_id.get("id") if isinstance(group_or_id, dict) else group_or_id
    return isinstance(gid, str) and gid.startswith(PLANNED)


def new_group_body(name: str, role: str) -> dict:
    return {"displayName": name, "description": f"Natoma {DISPLAY_NAME.get(role, role)} role. {MARK}",
            "securityEnabled": True, "mailEnabled": False, "mailNickname": mail_nickname(name)}
