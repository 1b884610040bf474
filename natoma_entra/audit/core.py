"""The audit's pure core: who is in scope with which grants, the role Entra will send, and the verdict per user.

Everything is built from streamed inputs in one pass each, so the audit stays linear in users + memberships:
- grants are bit masks over the app's roles (one int per user, not a list of assignments);
- a user id is interned once to a small int; memberships arrive as (group id, user id) pairs and are folded into the
  user's mask as they come (no per-user scan of the grants, no list of memberships kept);
- Natoma's users are joined by the matching value (userPrincipalName -> userName by default), case-insensitively, as
  SCIM's userName is compared (RFC 7643 section 4.1.1: caseExact false).

Scope (Entra "known issues", nested groups): direct members of assigned groups and directly assigned users; members
of a nested group are not provisioned, so they are never in scope here.
What Entra sends (as the provisioning service evaluates it; Entra docs functions-for-customizing-application-data:
SingleAppRoleAssignment, AppRoleAssignmentsComplex): single-role sends the one role value, and fails the user with
MultipleGrantsNotSupported when there are several distinct roles; multi-role sends the set. A grant of a role without
a value (default access, msiam_access, User) carries no role.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

OK = "ok"
MISSING = "missing"
WRONG_ROLE = "wrong_role"
OUT_OF_SCOPE_ACTIVE = "out_of_scope_active"
OUT_OF_SCOPE_INACTIVE = "out_of_scope_inactive"
WILL_FAIL = "will_fail"
VERDICTS = (OK, MISSING, WRONG_ROLE, OUT_OF_SCOPE_ACTIVE, OUT_OF_SCOPE_INACTIVE, WILL_FAIL)
# An out-of-scope user Natoma holds disabled is what Entra itself leaves behind (it disables, never deletes): no drift.
DIFFERS = frozenset({MISSING, WRONG_ROLE, OUT_OF_SCOPE_ACTIVE, WILL_FAIL})
LABEL = {OK: "ok", MISSING: "missing in Natoma", WRONG_ROLE: "wrong role",
         OUT_OF_SCOPE_ACTIVE: "in Natoma, out of scope (active)",
         OUT_OF_SCOPE_INACTIVE: "in Natoma, out of scope (inactive)", WILL_FAIL: "will fail: multiple grants"}


class Roles:
    """The app's roles as bits: appRoleId -> bit; the value Entra sends for each (None: the role has no value)."""

    def __init__(self, app_roles: Iterable[dict] = ()):
        self._bit: dict[str, int] = {}
        self.values: list[str | None] = []
        for r in app_roles:
            if r.get("id"):
                self.mask(r["id"], r.get("value"))

    def mask(self, role_id: str, value: str | None = None) -> int:
        bit = self._bit.get(role_id)
        if bit is None:
            bit = self._bit[role_id] = len(self.values)
            self.values.append(value or None)
        return 1 << bit

    def sent(self, mask: int) -> tuple[str, ...]:
        """The distinct role values a mask carries, sorted (roles without a value are left out)."""
        out: set[str] = set()
        bit = 0
        while mask:
            value = self.values[bit]
            if mask & 1 and value:
                out.add(value)
            mask >>= 1
            bit += 1
        return tuple(sorted(out))


@dataclass
class Scope:
    """Users in scope: an interned index per user id, their grant mask and matching value (the Natoma userName)."""

    index: dict[str, int] = field(default_factory=dict)
    masks: list[int] = field(default_factory=list)
    keys: list[Any] = field(default_factory=list)  # audit: the userName to match; doctor: (name, UPN)
    nested_groups: set[str] = field(default_factory=set)  # groups met as members (their users are not in scope)

    def at(self, user_id: str) -> int:
        """The index of a user, interned on first sight."""
        i = self.index.get(user_id)
        if i is None:
            i = self.index[user_id] = len(self.masks)
            self.masks.append(0)
            self.keys.append(None)
        return i

    def grant(self, user_id: str, mask: int) -> None:
        i = self.at(user_id)
        self.masks[i] |= mask

    def name(self, user_id: str, key: str | None) -> None:
        """The user's matching value (as Natoma will hold it in userName)."""
        if key:
            self.keys[self.at(user_id)] = key

    def name_new(self, named: Iterable[tuple[str, str | None]]) -> None:
        """Matching values for users met in a page, set once per user (a user is met once per group)."""
        index, keys = self.index, self.keys
        for uid, key in named:
            i = index.get(uid)
            if i is not None and keys[i] is None and key:
                keys[i] = key

    def __len__(self) -> int:
        return len(self.masks)


def group_masks(assignments: Iterable[dict], roles: Roles, sp_id: str | None = None) -> tuple[dict[str, int], list[tuple[str, int]]]:
    """(group id -> mask of the roles assigned to it, [(user id, mask)] for users assigned directly)."""
    groups: dict[str, int] = {}
    users: list[tuple[str, int]] = []
    for a in assignments:
        if sp_id and a.get("resourceId") not in (None, sp_id):
            continue
        pid, kind = a.get("principalId"), a.get("principalType")
        if not pid or not a.get("appRoleId"):
            continue
        m = roles.mask(a["appRoleId"])
        if kind == "Group":
            groups[pid] = groups.get(pid, 0) | m
        elif kind == "User":
            users.append((pid, m))
    return groups, users


def fold_memberships(scope: Scope, pairs: Iterable[tuple[str, str]], masks: Mapping[str, int]) -> int:
    """Fold (group id, user id) pairs into the scope: each user gets the group's roles. Returns the pairs folded."""
    index, grants, at = scope.index, scope.masks, scope.at  # locals: this loop runs once per membership
    n = 0
    for gid, uid in pairs:
        i = index.get(uid)
        if i is None:
            i = at(uid)
        grants[i] |= masks.get(gid, 0)
        n += 1
    return n


@dataclass(frozen=True, slots=True)
class Expected:
    roles: tuple[str, ...]
    fails: bool = False  # single-role and more than one distinct role: MultipleGrantsNotSupported


def expected(mask: int, roles: Roles, multi_role: bool) -> Expected:
    sent = roles.sent(mask)
    return Expected(sent, fails=not multi_role and len(sent) > 1)


@dataclass(frozen=True, slots=True)
class NatomaUser:
    user_name: str
    roles: tuple[str, ...]
    active: bool | None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    verdict: str
    user: str  # the matching value (userName), else the Entra object id
    expected: tuple[str, ...] | None  # None: out of scope
    actual: tuple[str, ...] | None  # None: not in Natoma
    active: bool | None = None
    natoma_id: str | None = None
    entra_id: str | None = None

    def as_json(self) -> dict:
        return {"user": self.user, "verdict": self.verdict,
                "expected": list(self.expected) if self.expected is not None else None,
                "natoma": list(self.actual) if self.actual is not None else None,
                "active": self.active, "natomaId": self.natoma_id, "entraId": self.entra_id}


def _judge(exp: Expected, have: tuple[str, ...]) -> str:
    if exp.fails:
        return WILL_FAIL
    return OK if set(have) == set(exp.roles) else WRONG_ROLE


def compare(scope: Scope, roles: Roles, natoma: Iterable[NatomaUser], *, multi_role: bool) -> Iterator[Finding]:
    """One finding per user in scope and per Natoma user, streaming over Natoma's users."""
    by_key: dict[str, int] = {}
    for i, k in enumerate(scope.keys):
        if k:
            by_key.setdefault(k.lower(), i)
    ids = list(scope.index)  # index -> Entra object id
    seen = bytearray(len(scope))
    for u in natoma:
        found = by_key.get((u.user_name or "").lower())
        if found is None:
            yield Finding(OUT_OF_SCOPE_INACTIVE if u.active is False else OUT_OF_SCOPE_ACTIVE, u.user_name, None,
                          u.roles, u.active, u.id)
            continue
        i = found
        seen[i] = 1
        exp = expected(scope.masks[i], roles, multi_role)
        yield Finding(_judge(exp, u.roles), u.user_name, exp.roles, u.roles, u.active, u.id, ids[i])
    for i, flag in enumerate(seen):
        if flag:
            continue
        exp = expected(scope.masks[i], roles, multi_role)
        yield Finding(WILL_FAIL if exp.fails else MISSING, scope.keys[i] or ids[i], exp.roles, None, None, None, ids[i])


def case_duplicates(natoma: Iterable[NatomaUser]) -> list[list[str]]:
    """userNames Natoma holds more than once once case is ignored (RFC 7643 section 4.1.1: userName is caseExact
    false, so "Alice@x" and "alice@x" are one user to SCIM and to Entra's matching): each group, in Natoma's order."""
    first: dict[str, str] = {}
    dupes: dict[str, list[str]] = {}
    for u in natoma:
        key = u.user_name.casefold()
        if key in first:
            dupes.setdefault(key, [first[key]]).append(u.user_name)
        else:
            first[key] = u.user_name
    return list(dupes.values())


def count(findings: Iterable[Finding]) -> Counter:
    c: Counter = Counter({v: 0 for v in VERDICTS})
    for f in findings:
        c[f.verdict] += 1
    return c
