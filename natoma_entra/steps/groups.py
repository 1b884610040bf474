"""--create-groups: a configured group that does not exist is created as a security group, then assigned. These are
operations of the assign step (steps/assignments.py): its read resolves the configured groups, a missing one becomes a
planned group here, its plan creates it before the assignments that need it, its apply creates it and assigns the id
Graph gave it.

Graph facts (Microsoft Graph docs group-upsert.md, group-post-groups.md, group.md):
- PATCH /groups(uniqueName='...') with `Prefer: create-if-missing` {displayName, mailEnabled, mailNickname,
  securityEnabled} (all four required on create) -> 201 with the new group, or 204 when a group already holds the
  uniqueName (it is updated). uniqueName is "the unique identifier that can be assigned to a group and used as an
  alternate key. Immutable. Read-only" (group.md): only a create sets it.
- A security group: securityEnabled true, mailEnabled false, no groupTypes.
- mailNickname: at most 64 characters, ASCII, none of @ () \\ [] " ; : <> , or space.
- A new group replicates: reads and the assignment that names it may answer 404 for a while (waited out).

The uniqueName is derived from the configured name (UNIQUE_PREFIX + uuid5 of the name as `eq` compares it), so two
runs creating the same configured group at the same time, or a run after an interrupted one whose new group is not
listed yet, ask for the same key and get one group, never two. Which groups natoma-entra made for an app is recorded
on that app's tags (natoma_entra/marks.py); the description only says it to people, and is no evidence.
"""
from __future__ import annotations

import re
import uuid

from ..graph.odata import literal
from ..natoma_roles import DISPLAY_NAME

MARK = "Created by natoma-entra (--create-groups)."  # for people reading the description: not evidence
UNIQUE_PREFIX = "natoma-entra-"
UNIQUE_NAMESPACE = uuid.UUID("6c1e0b52-3d0e-4f43-8a43-6e61746f6d61")
PLANNED = "planned:"  # the id of a group planned, not created yet


def mail_nickname(name: str) -> str:
    """From the display name: ASCII letters, digits, '-', '_' and '.', at most 64 (group.md's rules)."""
    nick = re.sub(r"[^A-Za-z0-9._-]", "", name)[:64].strip(".")
    return nick or "natoma-group"


def unique_name(name: str) -> str:
    """The uniqueName --create-groups gives the group named `name`: the same for every spelling `eq` takes for one
    name (case-insensitive: docs concepts/query-parameters.md), so every run asks for the same key."""
    return UNIQUE_PREFIX + uuid.uuid5(UNIQUE_NAMESPACE, name.casefold()).hex


def has_our_unique_name(group: dict) -> bool:
    """The group was created by a natoma-entra upsert (only a create sets uniqueName: group.md)."""
    return str(group.get("uniqueName") or "").lower().startswith(UNIQUE_PREFIX)


def upsert_path(name: str) -> str:
    """PATCH (upsert) and GET by alternate key: /groups(uniqueName='...') (group-upsert.md's example form)."""
    return f"/groups(uniqueName={literal(unique_name(name))})"


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
