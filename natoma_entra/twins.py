"""Two apps with the configured name, where one was made by natoma-entra: which one a run uses, and what it says.

Instantiating an application template has no upsert (applicationtemplate-instantiate.md takes a displayName only), so
two `app create` runs at the same moment, or a run whose answer was lost followed by another inside Graph's
replication window, can make two apps with one name. Every run then picks the same one, by a rule that needs no
coordination, and names the other so a person can delete it, instead of stopping with "2 apps are named ..." for ever:

1. an app recorded as made by natoma-entra (natoma_entra/marks.py `natoma-entra:created`) before one that is not;
2. then the older (createdDateTime);
3. then the smaller appId.

Only when none of them is recorded as natoma-entra's is the name ambiguous (bad input: exit 2, the apps listed).
"""
from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Sequence

from . import marks

if TYPE_CHECKING:
    from .graph.lookups import App

_NEWEST = _dt.datetime.max.replace(tzinfo=_dt.timezone.utc)


def _created(app: "App") -> _dt.datetime:
    """When the application was made (Graph gives fractions of a second: application-upsert.md's example); an unknown
    or unreadable time counts as the newest."""
    text = str((app.application or {}).get("createdDateTime") or "")
    try:
        when = _dt.datetime.fromisoformat(text)
    except ValueError:
        return _NEWEST
    return when if when.tzinfo is not None else when.replace(tzinfo=_dt.timezone.utc)


def by_age(apps: Sequence["App"]) -> list["App"]:
    """Pure: the oldest first (then the smaller appId). What a run that has just made one of the twins goes by: the
    other run's record may not have reached Graph yet, but both runs see the same creation times."""
    return sorted(apps, key=lambda a: (_created(a), a.app_id.lower()))


def order(apps: Sequence["App"]) -> list["App"]:
    """Pure: the apps in the order the rule prefers them (the one to use first)."""
    return sorted(by_age(apps), key=lambda a: not marks.created(a.application))


def keeper(apps: Sequence["App"]) -> "App | None":
    """Pure: the app every run uses among twins, None when the name is ambiguous (no app is natoma-entra's)."""
    if not any(marks.created(a.application) for a in apps):
        return None
    return order(apps)[0]


def describe(app: "App") -> str:
    made = (app.application or {}).get("createdDateTime") or "at an unknown time"
    whose = "recorded as made by natoma-entra" if marks.created(app.application) else "not recorded as natoma-entra's"
    return f"appId {app.app_id} (created {made}, {whose})"


def warning(used: "App", others: Sequence["App"]) -> str:
    """What a run says when it uses one of several apps with the name: which one, and how to delete each other one."""
    ways = []
    for o in others:
        flag = "--delete-app" if marks.created(o.application) else f"--delete {o.app_id}"
        ways.append(f"{describe(o)}: if nothing on it is yours, delete it with `natoma-entra --app {o.app_id} "
                    f"teardown {flag}`")
    return (f"{len(others) + 1} apps are named {used.display_name!r}; this run uses {describe(used)}, the one every "
            f"run picks; the other looks like a twin left by an interrupted or concurrent `app create`: "
            + "; ".join(ways))
