"""The audit's reads, streamed: the job's mapping, the assignments, the members of assigned groups (pages read a few
groups at a time), and Natoma's users over SCIM. Read-only: GETs to Graph, GETs to Natoma."""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable

from ..graph.errors import GraphError
from ..graph.odata import literal, seg
from ..session import Session
from .core import NatomaUser, Scope, fold_memberships

USER, GROUP = "#microsoft.graph.user", "#microsoft.graph.group"
# Groups whose member pages are read at once. Directory reads cost 1 resource unit each and an app may spend 3,500
# (tenants under 50 users) to 8,000 (over 500) per 10 s (Graph docs throttling-limits.md, identity and access
# service limits). A tenant with many groups to walk is a large one: 32 reads in flight at 50 ms a page is 6,400 per
# 10 s, under its 8,000 (a real member page of 999 takes longer, so fewer); a small tenant has few pages to read.
# A 429 is waited for (Retry-After) and retried by the Graph client, within the run's budget.
CONCURRENCY = 32
PAGE = "999"  # the largest page Graph serves for directory object collections
IDS_PER_FILTER = 15  # Graph's limit on values in an `in (...)` filter clause
_ROLE_FUNCTION = re.compile(r"^\s*(\w+)\s*\(\s*\[appRoleAssignments\]\s*\)\s*$", re.I)
SINGLE_FUNCTIONS = {"singleapproleassignment"}
MULTI_FUNCTIONS = {"approleassignmentscomplex", "assertiveapproleassignmentscomplex"}


class MappingUnknown(Exception):
    def __init__(self, message: str, fix: str):
        super().__init__(message)
        self.message, self.fix = message, fix


@dataclass
class JobMapping:
    multi_role: bool
    role_function: str
    source: str  # the Entra attribute whose value Natoma holds as userName (the matching attribute)
    target: str
    warnings: list[str]


def job_mapping(schema: dict) -> JobMapping:
    """Which role function the job's user mapping uses, and its matching attribute (pure)."""
    from ..steps.mapping import expression_of, locate

    where = locate(schema)
    warnings = list(where.warnings)
    function = None
    for m in where.object_mapping.get("attributeMappings") or []:
        if not isinstance(m, dict):
            continue
        found = _ROLE_FUNCTION.match(expression_of(m.get("source")) or "")
        if found and found.group(1).lower() in SINGLE_FUNCTIONS | MULTI_FUNCTIONS:
            function = found.group(1)
            break
    if function is None:
        raise MappingUnknown("the job's user mapping sends no role (no SingleAppRoleAssignment or "
                             "AppRoleAssignmentsComplex over [appRoleAssignments])",
                             "map the role first: natoma-entra mapping (or --multi-role)")
    matching = sorted((m for m in where.object_mapping.get("attributeMappings") or []
                       if isinstance(m, dict) and (m.get("matchingPriority") or 0) > 0),
                      key=lambda m: m["matchingPriority"])
    source, target = "userPrincipalName", "userName"
    if matching:
        first = matching[0]
        src = first.get("source") or {}
        if src.get("type") == "Attribute" and src.get("name"):
            source, target = src["name"], first.get("targetAttributeName") or target
        else:
            warnings.append(f"the matching attribute is computed ({expression_of(src)}); the audit matches Natoma's "
                            "userName with userPrincipalName")
    if target != "userName":
        warnings.append(f"the job matches users on {target!r}, not userName; the audit compares {source} with "
                        "Natoma's userName")
    return JobMapping(function.lower() in MULTI_FUNCTIONS, function, source, target, warnings)


async def pages(session: Session, path: str, params: dict) -> AsyncIterator[list[dict]]:
    """Each page of a collection, following @odata.nextLink, without keeping earlier pages."""
    page: dict[str, Any] | None = await session.graph.get(path, params)
    while page is not None:
        nxt, items = page.get("@odata.nextLink"), page.get("value", [])
        page = None  # neither this page nor its items are held while the next one is read
        yield items
        items = None
        if not nxt:
            return
        page = await session.graph.get(nxt)


async def walk_members(session: Session, group_ids: Iterable[str], select: str,
                       on_page: Callable[[str, list[dict]], None], *, concurrency: int = CONCURRENCY,
                       on_group: Callable[[str], None] | None = None,
                       on_error: Callable[[str, GraphError], None] | None = None,
                       also: Iterable[Awaitable[Any]] = ()) -> None:
    """The one membership reader (audit and doctor): the direct members of every group, `concurrency` groups at a
    time, each page handed to on_page(group id, members) as it arrives and then dropped, so memory does not grow
    with the pages. A group's pages are sequential (each @odata.nextLink comes with the page before it); groups run
    side by side. on_group(gid) when a group is done; on_error(gid, error) for a group whose read failed (without
    it the error stops the walk). `also`: reads to run under the same limit (the audit's direct users)."""
    sem = asyncio.Semaphore(concurrency)
    params = {"$select": select, "$top": PAGE}

    async def one(gid: str) -> None:
        async with sem:
            try:
                async for items in pages(session, f"/groups/{seg(gid)}/members", params):
                    on_page(gid, items)
                    del items  # not held while the next page is read
            except GraphError as e:
                if on_error is None:
                    raise
                on_error(gid, e)
                return
        if on_group:
            on_group(gid)

    async def limited(read: Awaitable[Any]) -> Any:
        async with sem:
            return await read

    await session.graph.gather(*(one(g) for g in group_ids), *(limited(r) for r in also))


async def read_scope(session: Session, scope: Scope, group_masks: dict[str, int], direct: list[tuple[str, int]],
                     key_attribute: str, *, concurrency: int = CONCURRENCY,
                     on_progress: Callable[[int, int], None] | None = None) -> int:
    """Fold the direct members of every assigned group, and the directly assigned users, into `scope`.
    Returns the memberships read."""
    select = ",".join(dict.fromkeys(("id", key_attribute)))
    done = [0, 0]  # groups read, memberships folded

    def page(gid: str, items: list[dict]) -> None:
        users = [m for m in items if m.get("@odata.type") == USER and m.get("id")]
        done[1] += fold_memberships(scope, ((gid, m["id"]) for m in users), group_masks)
        scope.name_new((m["id"], m.get(key_attribute)) for m in users)
        if len(users) < len(items):  # nested groups: their members are not provisioned
            scope.nested_groups.update(m["id"] for m in items if m.get("@odata.type") == GROUP and m.get("id"))

    def group_done(gid: str) -> None:
        done[0] += 1
        if on_progress:
            on_progress(done[0], done[1])

    async def users(ids: list[str]) -> None:
        flt = "id in (" + ",".join(literal(i) for i in ids) + ")"
        async for items in pages(session, "/users", {"$filter": flt, "$select": select}):
            for u in items:
                scope.name(u["id"], u.get(key_attribute))

    for uid, mask in direct:
        scope.grant(uid, mask)
    ids = list(dict.fromkeys(uid for uid, _ in direct))
    await walk_members(session, group_masks, select, page, concurrency=concurrency, on_group=group_done,
                       also=[users(ids[i:i + IDS_PER_FILTER]) for i in range(0, len(ids), IDS_PER_FILTER)])
    return done[1]


# What the audit keeps of Natoma's users is bounded whatever the server sends: a NatomaUser costs about this much
# beside its strings (measured in tests/security/test_hostile_scim.py), and all of them together at most
# MAX_HELD_BYTES, about 300,000 users of ordinary names (the audit is built and measured for 100,000).
USER_OVERHEAD = 240
MAX_HELD_BYTES = 96 * 1024 * 1024


def read_natoma(url: str, token: str, factory: Any = None, *, on_page: Callable[[int, int], None] | None = None,
                bounds: Any = None, max_held: int = MAX_HELD_BYTES) -> list[NatomaUser]:
    """Every user Natoma holds, compact (role tuples shared between users). Blocking: run it in a thread."""
    from ..natoma_scim import iter_users
    from ..scim_bounds import FIX_SERVER, ScimReadError

    shared: dict[tuple[str, ...], tuple[str, ...]] = {}
    out: list[NatomaUser] = []
    held = 0
    for u in iter_users(url, token, factory, on_page=on_page, bounds=bounds):
        roles = tuple(sorted(u.get("roles") or ()))
        user_name, uid = str(u.get("userName") or ""), u.get("id")
        held += USER_OVERHEAD + len(user_name) + len(str(uid or ""))
        if roles not in shared:
            held += sum(len(r) + 50 for r in roles)
        if held > max_held:
            from urllib.parse import urlsplit

            raise ScimReadError(f"Natoma's SCIM endpoint at {urlsplit(url).hostname or url} sent more user data than "
                                f"the audit holds ({len(out):,} users, {held // (1024 * 1024)} MB of userNames, ids "
                                "and roles)", fix=FIX_SERVER)
        out.append(NatomaUser(user_name, shared.setdefault(roles, roles), u.get("active"), uid))
    return out
