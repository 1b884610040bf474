"""What records that natoma-entra made an object: structured tags on the Natoma app's application object.

docs/teardown.md ("What counts as made by natoma-entra, and what spoofing it requires") is the rule; this module
reads and writes the record:

- `natoma-entra:created`: `app create` (or `setup --create-app`) made this app;
- `natoma-entra:job:<jobId>`: setup created this provisioning job;
- `natoma-entra:group:<groupId>`: `--create-groups` created this group for this app's configuration.

The application resource's `tags` are "custom strings that can be used to categorize and identify the application"
(Microsoft Graph docs resources/application.md); PATCH /applications/{id} replaces a collection property as a whole
(application-update.md), so a write reads the tags, changes only ours and sends every other tag back, then reads them
again: two runs writing at once may each drop the other's tag, and the read-back puts it back (bounded).

Writing the tags takes write access to the app registration, which already allows deleting the app: nobody records
an object as natoma-entra's by accident, and spoofing the record grants nothing the spoofer did not have.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from .graph.errors import GraphError
from .graph.odata import seg
from .graph.retry import AFTER_CREATE, DEFAULT, Policy

if TYPE_CHECKING:
    from .graph.lookups import App
    from .session import Session

PREFIX = "natoma-entra:"
CREATED = PREFIX + "created"
JOB = PREFIX + "job:"
GROUP = PREFIX + "group:"
ATTEMPTS = 3  # read, write, read back: a concurrent writer that dropped our tag is answered this many times


def job_tag(job_id: str) -> str:
    return JOB + job_id


def group_tag(group_id: str) -> str:
    return GROUP + group_id.lower()


def tags_of(application: dict | None) -> list[str]:
    tags = (application or {}).get("tags")
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def created(application: dict | None) -> bool:
    return CREATED in tags_of(application)


def job_ids(application: dict | None) -> set[str]:
    """The provisioning jobs recorded as natoma-entra's (job ids are case-sensitive strings: compared as they are)."""
    return {t[len(JOB):] for t in tags_of(application) if t.startswith(JOB) and len(t) > len(JOB)}


def group_ids(application: dict | None) -> set[str]:
    """The groups recorded as made by --create-groups for this app (GUIDs: compared in lower case)."""
    return {t[len(GROUP):].lower() for t in tags_of(application) if t.startswith(GROUP) and len(t) > len(GROUP)}


def changed(tags: list[str], add: Iterable[str] = (), remove: Iterable[str] = ()) -> list[str]:
    """Pure: the tags with `remove` taken out and `add` appended, every other tag kept in its place."""
    gone = set(remove)
    out = [t for t in tags if t not in gone]
    out += [t for t in dict.fromkeys(add) if t not in out]
    return out


def _path(application_id: str) -> str:
    return f"/applications/{seg(application_id)}"


async def read_tags(session: "Session", application_id: str, *, new: bool = False) -> list[str]:
    """The application's tags as Graph has them now (a new application may answer 404 while it replicates)."""
    policy = AFTER_CREATE.but(what="reading the new app's tags") if new else DEFAULT
    doc = await session.graph.get(_path(application_id), {"$select": "id,tags"}, policy=policy)
    return tags_of(doc)


async def record(session: "Session", application_id: str, *, add: Iterable[str] = (), remove: Iterable[str] = (),
                 new: bool = False, extra: dict | None = None) -> list[str]:
    """Add and remove our tags on the application, keeping every other tag; the tags as finally read. Read back after
    each write: a concurrent writer of the whole collection may have dropped ours, and the write is made again, at
    most ATTEMPTS times. Raises GraphError when Graph refuses, or when the tags still differ after the last attempt.
    `extra`: other properties sent in the same PATCH (the new app's notes). `new`: the application was just made
    (its 404s while it replicates are waited out)."""
    add, remove = list(add), list(remove)
    tags = await read_tags(session, application_id, new=new)
    for _ in range(ATTEMPTS):
        wanted = changed(tags, add, remove)
        if wanted == tags and all(t in tags for t in add):
            return tags
        policy = AFTER_CREATE.but(what="recording natoma-entra's objects on the new app") if new else Policy(
            what="recording natoma-entra's objects on the app")
        await session.graph.patch(_path(application_id), {**(extra or {}), "tags": wanted}, policy=policy)
        tags = await read_tags(session, application_id, new=new)
        if all(t in tags for t in add) and not any(t in tags for t in remove):
            return tags
    raise GraphError(status=409, code="TagsNotKept", method="PATCH", path=_path(application_id),
                     message=f"the app registration's tags did not keep natoma-entra's record after {ATTEMPTS} writes "
                             "(another writer replaces the tags at the same time)",
                     fix="run the command again when no other tool is changing the app registration")


async def record_or_warn(session: "Session", app: "App", what: str, *, add: Iterable[str] = (),
                         remove: Iterable[str] = ()) -> list[str]:
    """record() on the app's application (whose tags, as cached for this run, follow), where a refusal is a warning
    rather than a failure: the object itself was made, and only its record is missing. The warning says what
    teardown will then do."""
    application_id = (app.application or {}).get("id")
    if not application_id:
        return [f"{what}: the app registration (application object) cannot be read, so natoma-entra cannot record "
                "it as its own; teardown will leave it in place (delete it by name with `natoma-entra teardown "
                "--delete ...`)"]
    try:
        tags = await record(session, application_id, add=add, remove=remove)
    except GraphError as e:
        return [f"{what}: natoma-entra could not record it as its own on the app registration ({e.headline}); "
                "teardown will leave it in place (delete it by name with `natoma-entra teardown --delete ...`)"]
    if app.application is not None:
        app.application["tags"] = tags
    return []
