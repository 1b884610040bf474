"""`doctor`'s checks: the guide's troubleshooting table as verdicts over one read of the tenant.

Everything here is pure: `checks(state)` looks only at a DoctorState (what doctor.py read) and returns one
CheckResult per check, each with a verdict (ok / warn / fail), the details behind it and the fix. No Graph call, no
clock, no I/O, so every verdict is unit-testable with a hand-built state.

Facts the checks rest on (Graph docs approleassignment.md, synchronization-* pages; Entra docs known-issues.md,
customize-application-attributes.md, functions-for-customizing-application-data.md):
- appRoleId 00000000-0000-0000-0000-000000000000 is "default access"; msiam_access and User (the template's roles)
  have no value: a user who gets only such a grant is provisioned without a Natoma role.
- Only direct members of an assigned group are in scope: members of a nested group are skipped.
- SingleAppRoleAssignment returns one role; with several, which one is not predictable (the sandbox, like the guide,
  fails the user with MultipleGrantsNotSupported). AssertiveAppRoleAssignmentsComplex sends them all.
- SingleAppRoleAssignment is not compatible with "Sync all users and groups" (SyncAll must be "false").
- The provisioning interval is fixed (about 40 minutes); provision on demand tests one user now.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal

from ..json_values import obj
from ..listing import more, natural_key, natural_sorted
from ..natoma_roles import DISPLAY_NAME, NATOMA_ROLES, ROLE_VALUES

Verdict = Literal["ok", "warn", "fail"]
DEFAULT_ACCESS = "00000000-0000-0000-0000-000000000000"
USER_TYPE = "#microsoft.graph.user"
GROUP_TYPE = "#microsoft.graph.group"
SHOWN = 20  # names listed in a check's details; the rest are counted (all of them are in the JSON data)

# The check names, in the order they run (they are the JSON report's step names).
APP, ROLES, ROLE_MISSING, GROUPS, MULTIPLE, NESTED, MAPPING, CREDENTIALS, JOB, PERMISSIONS, USER = (
    "app", "roles", "role-missing", "groups-assigned", "multiple-grants", "nested-only", "mapping", "credentials",
    "job", "permissions", "user")


@dataclass
class ReadError:
    """A read that failed: what was read, Graph's (or the lookup's) message, and its fix."""

    what: str
    message: str
    fix: str | None = None


@dataclass
class ConfiguredGroup:
    role: str  # the Natoma role value the config gives it
    ref: str  # display name or object id, as configured
    group: dict | None = None  # the group as read (id, displayName, securityEnabled, groupTypes)
    error: ReadError | None = None


@dataclass
class DoctorState:
    """Everything doctor reads, once. Collections are plain Graph JSON."""

    app: dict | None = None  # App.summary()
    app_roles: list[dict] = field(default_factory=list)  # where roles are defined (the application, else the SP)
    sp_roles: list[dict] = field(default_factory=list)  # what the service principal shows
    config_url: str | None = None
    config_scope: str = "assigned"
    configured: list[ConfiguredGroup] = field(default_factory=list)
    assignments: list[dict] | None = None  # appRoleAssignedTo of the service principal (None: not read)
    groups: dict[str, dict] = field(default_factory=dict)  # id -> group, for assigned and configured groups
    # assigned group id -> its direct members: only in hand-built states; the reader folds pages into `grants` as
    # they stream and keeps none
    members: dict[str, list[dict]] = field(default_factory=dict)
    grants: Any = None  # Grants, folded by the reader (None: built from `members` when a check asks)
    nested: dict[str, list[dict]] = field(default_factory=dict)  # nested group id -> its users (transitive)
    nested_in: dict[str, list[str]] = field(default_factory=dict)  # nested group id -> assigned groups holding it
    job: dict | None = None
    schema: dict | None = None
    secrets: dict[str, str] | None = None  # None: not read; {} nothing saved (or not readable, see below)
    secrets_unreadable: bool = False
    connection_test: str | None = None  # "passed", the failure reason, or None when not run
    user_ref: str | None = None  # --user
    wanted_mode: str | None = None  # --multi-role / --single-role; None: judge the mode in place
    user: dict | None = None
    user_groups: list[dict] | None = None  # the user's direct groups (memberOf)
    errors: dict[str, ReadError] = field(default_factory=dict)  # "app", "assignments", "job", "members:<id>", ...
    token: Any = None  # preflight.TokenView: the access token's claims and ownership (None: not read)


@dataclass
class CheckResult:
    name: str
    verdict: Verdict
    summary: str  # one line
    details: list[str] = field(default_factory=list)
    fix: str | None = None
    data: dict[str, Any] = field(default_factory=dict)  # machine-readable facts (JSON info)


def _names(items: list[str], shown: int = SHOWN) -> str:
    if len(items) <= shown:
        return ", ".join(items)
    return ", ".join(items[:shown]) + f" and {len(items) - shown:,} more (-o json for all)"


def _shown(lines: list[str]) -> list[str]:
    """A check's list in its details: the first SHOWN, then "... and N more (-o json for all)" (its data holds all)."""
    return lines[:SHOWN] + ([more(len(lines) - SHOWN)] if len(lines) > SHOWN else [])


def _user_label(u: dict) -> str:
    name, upn = u.get("displayName"), u.get("userPrincipalName")
    if name and upn:
        return f"{name} ({upn})"
    return name or upn or u.get("id") or "?"


def group_label(state: DoctorState, gid: str, fallback: str | None = None) -> str:
    g = state.groups.get(gid)
    return (g or {}).get("displayName") or fallback or gid


def _error_result(name: str, err: ReadError, summary: str | None = None) -> CheckResult:
    return CheckResult(name, "fail", summary or f"could not read {err.what}", details=[err.message], fix=err.fix)


# -- roles on the service principal ------------------------------------------------------------------------------

_ROLE_INDEX: list = [None, -1, {}]  # (sp_roles list, its length, appRoleId -> role): built once per list


def _role_index(state: DoctorState) -> dict[str, dict]:
    """appRoleId -> role, built once per list of roles (the checks ask once per grant)."""
    roles = state.sp_roles
    if _ROLE_INDEX[0] is not roles or _ROLE_INDEX[1] != len(roles):
        _ROLE_INDEX[:] = [roles, len(roles), {r.get("id"): r for r in roles if isinstance(r, dict)}]
    return _ROLE_INDEX[2]


def role_label(state: DoctorState, role_id: str | None) -> str:
    if role_id == DEFAULT_ACCESS:
        return "default access"
    role = _role_index(state).get(role_id or "")
    if role is None:
        return f"unknown role {role_id}"
    return role.get("value") or role.get("displayName") or role_id or "?"


def role_value(state: DoctorState, role_id: str | None) -> str | None:
    """The value the role sends (None: default access, a role without a value, or a role the SP no longer has)."""
    if role_id == DEFAULT_ACCESS:
        return None
    return (_role_index(state).get(role_id or "") or {}).get("value")


# -- grants: who gets which role through what --------------------------------------------------------------------

@dataclass
class Grant:
    role_id: str
    via: str  # "direct" or the group's display name
    group_id: str | None = None


def _is_user(member: dict) -> bool:
    kind = member.get("@odata.type")
    return kind == USER_TYPE or (kind is None and "userPrincipalName" in member)


class Grants:
    """Who is in scope with which roles, compact (the doctor's share of audit.core): every user id interned once to
    a small int (audit.core.Scope), the roles a user holds as one bit mask (audit.core.Roles over the service
    principal's roles), a label per user, and the memberships as one int array per group (4 bytes each). Member pages are folded in as they stream (fold) and never kept. Which group gives a user a role is found,
    only for the users that need it, in one pass over the arrays (grants_for), never by scanning every grant per
    user."""

    def __init__(self, assignments: list[dict], sp_roles: list[dict], group_name: Callable[[str, str | None], str]):
        from array import array

        from ..audit.core import Roles, Scope

        self.roles = Roles(r for r in sp_roles if isinstance(r, dict))
        self.scope = Scope()
        self.group_index: dict[str, int] = {}  # assigned group id -> index (in assignment order)
        self.group_ids: list[str] = []
        self.group_mask: list[int] = []
        self.group_grants: list[list[tuple[int, str]]] = []  # per group: (assignment position, appRoleId)
        self.direct: dict[int, list[tuple[int, str]]] = {}  # user index -> (assignment position, appRoleId)
        self.member_count: dict[str, int] = {}  # assigned group id -> its direct users (when read)
        self.group_members: list = []  # per group index: array("i") of its users' indices (4 bytes a membership)
        self._group_name = group_name
        self._direct_names: dict[int, str | None] = {}
        self._id_list: list[str] = []
        for pos, a in enumerate(assignments):
            pid, rid, kind = a.get("principalId"), str(a.get("appRoleId") or ""), a.get("principalType")
            if not pid:
                continue
            if kind == "Group":
                gi = self.group_index.get(pid)
                if gi is None:
                    gi = self.group_index[pid] = len(self.group_ids)
                    self.group_ids.append(pid)
                    self.group_mask.append(0)
                    self.group_grants.append([])
                    self.group_members.append(array("i"))
                self.group_mask[gi] |= self.roles.mask(rid) if rid else 0
                self.group_grants[gi].append((pos, rid))
            elif kind == "User":
                i = self.scope.at(pid)
                self.scope.masks[i] |= self.roles.mask(rid) if rid else 0
                self.direct.setdefault(i, []).append((pos, rid))
                self._direct_names.setdefault(i, a.get("principalDisplayName"))

    def fold(self, gid: str, members: list[dict]) -> int:
        """One page of an assigned group's direct members. Returns the users folded. Runs once per membership:
        locals only, one dict lookup per member, one int appended."""
        gi = self.group_index.get(gid)
        if gi is None:
            return 0
        scope, index, masks, keys = self.scope, self.scope.index, self.scope.masks, self.scope.keys
        mask, get = self.group_mask[gi], index.get
        users = [m for m in members if (k := m.get("@odata.type")) == USER_TYPE
                 or (k is None and "userPrincipalName" in m)]
        new = [get(m.get("id") or "") for m in users]  # one dict lookup per member; None: met for the first time
        for pos, i in enumerate(new):
            if i is None:
                m = users[pos]
                if not m.get("id"):
                    continue
                i = new[pos] = index.get(m["id"])  # twice in one page
                if i is None:
                    i = new[pos] = scope.at(m["id"])
            if keys[i] is None:  # first met (or assigned directly so far): the page's own strings
                m = users[pos]
                keys[i] = (m.get("displayName"), m.get("userPrincipalName"))
            masks[i] |= mask
        new = [i for i in new if i is not None] if None in new else new
        self.group_members[gi].extend(new)
        self.member_count[gid] = self.member_count.get(gid, 0) + len(new)
        return len(new)

    def __len__(self) -> int:
        return len(self.scope)

    def __contains__(self, user_id: str) -> bool:
        return user_id in self.scope.index

    def label(self, i: int) -> str:
        key = self.scope.keys[i]
        if key and (key[0] or key[1]):
            return _user_label({"displayName": key[0], "userPrincipalName": key[1]})
        name = self._direct_names.get(i)
        return name or self._ids()[i]

    def _ids(self) -> list[str]:
        if len(self._id_list) != len(self.scope.index):
            self._id_list = list(self.scope.index)
        return self._id_list

    def values(self, i: int) -> tuple[str, ...]:
        """The distinct role values user i gets."""
        return self.roles.sent(self.scope.masks[i])

    def several(self) -> list[int]:
        """The users who get two or more distinct role values (one pass over the masks)."""
        sent, out = self.roles.sent, []
        seen: dict[int, int] = {}
        for i, mask in enumerate(self.scope.masks):
            if mask & (mask - 1):  # two bits or more
                n = seen.get(mask)
                if n is None:
                    n = seen[mask] = len(sent(mask))
                if n > 1:
                    out.append(i)
        return out

    def grants_for(self, users: Iterable[int]) -> dict[int, list[Grant]]:
        """Each user's grants in assignment order (direct, or via which group): one pass over the memberships."""
        wanted = set(users)
        groups: dict[int, set[int]] = {i: set() for i in wanted}
        if wanted:
            for g, members in enumerate(self.group_members):
                for i in wanted.intersection(members):  # a C loop over the group's ints
                    groups[i].add(g)
        out: dict[int, list[Grant]] = {}
        names: dict[int, str] = {}
        for i in wanted:
            held: list[tuple[int, str, str, str | None]] = [(pos, rid, "direct", None)
                                                            for pos, rid in self.direct.get(i, [])]
            for g in groups[i]:
                gid = self.group_ids[g]
                name = names.get(g)
                if name is None:
                    name = names[g] = self._group_name(gid, None)
                held += [(pos, rid, name, gid) for pos, rid in self.group_grants[g]]
            out[i] = [Grant(rid, via, gid) for _, rid, via, gid in sorted(held, key=lambda h: h[0])]
        return out


def grants_of(state: DoctorState) -> Grants:
    """The state's Grants: folded by the reader as pages streamed, or built here from `members` (a hand-built
    state)."""
    if state.grants is not None:
        return state.grants
    assignments = state.assignments or []
    def label(gid: str, fallback: str | None = None) -> str:
        return group_label(state, gid, fallback)

    g = Grants(assignments, state.sp_roles, label)
    for gid, members in state.members.items():
        g.fold(gid, members)
    return g


def _valued_roles(state: DoctorState, grants: list[Grant]) -> dict[str, list[str]]:
    """role value -> where it comes from, for the grants that carry a value."""
    out: dict[str, list[str]] = {}
    for g in grants:
        v = role_value(state, g.role_id)
        if v is not None and g.via not in out.setdefault(v, []):
            out[v].append(g.via)
    return out


def _role_order(value: str) -> tuple[int, str]:
    return (ROLE_VALUES.index(value) if value in ROLE_VALUES else len(ROLE_VALUES), value)


def _describe_roles(roles: dict[str, list[str]]) -> str:
    return ", ".join(f"{DISPLAY_NAME.get(v, v)} via {' and '.join(roles[v])}" for v in sorted(roles, key=_role_order))


# -- mapping mode ------------------------------------------------------------------------------------------------

def mapping_mode(schema: dict | None) -> str | None:
    """'multi-role' when the user mapping sends roles with a complex function, 'single-role' with
    SingleAppRoleAssignment, None when neither (or no readable user mapping)."""
    if not isinstance(schema, dict):
        return None
    from ..steps.mapping import SchemaError, function_over_assignments, locate

    try:
        where = locate(schema)
    except SchemaError:
        return None
    functions = {function_over_assignments((m or {}).get("source"))
                 for m in where.object_mapping.get("attributeMappings") or [] if isinstance(m, dict)}
    if functions & {"assertiveapproleassignmentscomplex", "approleassignmentscomplex"}:
        return "multi-role"
    if "singleapproleassignment" in functions:
        return "single-role"
    return None


# == the checks ==================================================================================================

def check_app(state: DoctorState) -> CheckResult:
    err = state.errors.get("app")
    if err or not state.app:
        err = err or ReadError("the app", "no app was read")
        return CheckResult(APP, "fail", "the Natoma app was not found", details=[err.message],
                           fix=err.fix or "pass --app with the display name, appId or object id of the Natoma "
                                          "enterprise app")
    a = state.app
    details = [] if a.get("applicationId") else [
        "no application object in this tenant: roles are read from the service principal"]
    return CheckResult(APP, "ok", f"found {a.get('displayName')!r} (appId {a.get('appId')})", details=details)


def check_roles(state: DoctorState) -> CheckResult:
    """Guide step 1: the three roles, enabled, with the exact (case-sensitive) values, and copied to the SP."""
    from ..steps.roles import role_patches, sp_shows

    app_id = (state.app or {}).get("appId") or ""
    p = role_patches(state.app_roles, app_id)
    wrong = [c for c in p.changes if c.action != "none"]
    details: list[str] = []
    for c in wrong:
        why = c.detail.get("why")
        details.append(f"{c.target}: " + ("missing on the app" if c.action == "create" else why or c.action))
    details.extend(p.warnings)
    fix = "natoma-entra roles"
    if wrong:
        return CheckResult(ROLES, "fail", f"{len(wrong)} of the {len(NATOMA_ROLES)} Natoma roles missing or wrong "
                                          "on the app", details=details, fix=fix,
                           data={"wrong": [c.target for c in wrong]})
    wanted = [r for r in p.final if r.get("value") in ROLE_VALUES]
    if not sp_shows(state.sp_roles, wanted):
        shown = {(r.get("id"), r.get("value")) for r in state.sp_roles if r.get("isEnabled")}
        missing = [f"{r.get('displayName')} ({r.get('value')})" for r in wanted if (r["id"], r["value"]) not in shown]
        return CheckResult(ROLES, "fail", "the roles are on the app but the service principal does not show "
                                          f"{_names(missing)}",
                           details=["assignments need the role on the service principal; Graph copies it with a "
                                    "lag (replication)"] + details,
                           fix=f"wait a minute and run doctor again; if it stays, run {fix}")
    verdict: Verdict = "warn" if p.warnings else "ok"
    return CheckResult(ROLES, verdict, "Admin (admin), AppAdmin (AppAdmin), Member (member): enabled, on the app "
                                       "and its service principal", details=details,
                       fix="natoma-entra roles --prune" if p.warnings else None)


def check_role_missing(state: DoctorState) -> CheckResult:
    """Guide: "user provisioned but role missing" = the group's assignment has no role (default access, or a role
    without a value such as msiam_access / User)."""
    if "assignments" in state.errors:
        return _error_result(ROLE_MISSING, state.errors["assignments"], "could not read the app's assignments")
    roleless: list[str] = []
    foreign: list[str] = []
    extra: list[str] = []  # a roleless grant next to a Natoma role: the role still reaches Natoma, but twice granted
    data: list[dict] = []
    with_natoma_role = {a.get("principalId") for a in state.assignments or []
                        if role_value(state, a.get("appRoleId")) in ROLE_VALUES}
    counts = grants_of(state).member_count  # assigned group id -> its direct users (groups whose members were read)
    for a in state.assignments or []:
        rid = a.get("appRoleId")
        kind = a.get("principalType") or "principal"
        name = a.get("principalDisplayName") or a.get("principalId")
        if a.get("principalType") == "Group":
            name = group_label(state, str(a.get("principalId")), name)
        value = role_value(state, rid)
        if value is None and a.get("principalId") in with_natoma_role:
            extra.append(f"{kind} {name!r} also holds {role_label(state, rid)} next to its Natoma role (a second "
                         "grant; its members still get the Natoma role)")
        elif value is None:
            label = role_label(state, rid)
            reach = ""
            if kind == "Group" and a.get("principalId") in counts:
                n = counts[a["principalId"]]
                reach = f": its {n} direct member{'s' if n != 1 else ''} get{'s' if n == 1 else ''} no Natoma role"
            roleless.append(f"{kind} {name!r} is assigned with {label}{reach}")
            data.append({"principalId": a.get("principalId"), "principalType": kind, "principal": name,
                         "appRoleId": rid, "role": label})
        elif value not in ROLE_VALUES:
            foreign.append(f"{kind} {name!r} holds role {value!r}, which is not a Natoma role")
    if roleless:
        return CheckResult(ROLE_MISSING, "fail", f"{len(roleless)} assignment{'s' if len(roleless) != 1 else ''} "
                                                 "without a role: their users are provisioned with the role missing",
                           details=roleless + foreign,
                           fix="edit the assignment (Enterprise applications -> the app -> Users and groups) and "
                               "select a role; for configured groups `natoma-entra assign --replace` keeps only "
                               "their Natoma role",
                           data={"assignments": data})
    if foreign or extra:
        return CheckResult(ROLE_MISSING, "warn", "assignments besides the Natoma roles", details=extra + foreign,
                           fix="keep one Natoma role per principal: `natoma-entra assign --replace` for configured "
                               "groups, or remove the other assignments in the portal")
    return CheckResult(ROLE_MISSING, "ok", f"every assignment ({len(state.assignments or [])}) carries a role")


def check_groups(state: DoctorState) -> CheckResult:
    """Guide: "provisioning skipped entirely" = the group is not assigned. And only security groups should be."""
    if "assignments" in state.errors:
        return _error_result(GROUPS, state.errors["assignments"], "could not read the app's assignments")
    assignments = state.assignments or []
    fails: list[str] = []
    warns: list[str] = []
    ok_lines: list[str] = []
    fix: list[str] = []
    configured_ids: set[str] = set()
    if not state.configured:
        warns.append("no groups configured ([groups] in the config file, or --group ROLE=GROUP): "
                     "cannot say which groups should be assigned")
    for c in state.configured:
        if c.group is None:
            fails.append(f"{DISPLAY_NAME.get(c.role, c.role)} group {c.ref!r}: "
                         f"{c.error.message if c.error else 'not found'}")
            if c.error and c.error.fix:
                fix.append(c.error.fix)
            continue
        g = c.group
        configured_ids.add(g["id"])
        name = g.get("displayName") or g["id"]
        if not g.get("securityEnabled"):
            fails.append(f"{name!r} is not a security group: it cannot be assigned to the app")
            fix.append("use a security group in [groups] (or enable security on this group)")
            continue
        held = [a for a in assignments if a.get("principalId") == g["id"]]
        values = {role_value(state, a.get("appRoleId")) for a in held}
        if c.role in values:
            ok_lines.append(f"{name!r} -> {DISPLAY_NAME.get(c.role, c.role)}")
        elif held:
            others = ", ".join(role_label(state, a.get("appRoleId")) for a in held)
            fails.append(f"{name!r} should hold {DISPLAY_NAME.get(c.role, c.role)} but holds {others}")
            fix.append("natoma-entra assign --replace")
        else:
            fails.append(f"{name!r} is not assigned to the app (its members are skipped)")
            fix.append("natoma-entra assign")
    configured_warns = len(warns)  # the configured groups first, in config order
    also: list[tuple[str, str]] = []  # (group, role) assigned but not configured
    for a in assignments:
        is_group = a.get("principalType") == "Group"
        group: dict | None = state.groups.get(str(a.get("principalId"))) if is_group else None
        name = (group or {}).get("displayName") or a.get("principalDisplayName") or a.get("principalId")
        if group is not None and not group.get("securityEnabled"):
            kind = "a Microsoft 365 group" if "Unified" in (group.get("groupTypes") or []) else "not a security group"
            line = f"{name!r} is assigned but is {kind}"
            if line not in warns:
                warns.append(line)
        if not state.configured or a.get("principalId") in configured_ids:
            continue
        if role_value(state, a.get("appRoleId")) in ROLE_VALUES:
            # privilege drift: a Natoma role granted to a principal the config does not name (a group, a user or a
            # service principal added by hand): the same judgement as the assignments step's plan
            line = (f"{name!r} ({a.get('principalType') or 'principal'}) holds "
                    f"{role_label(state, a.get('appRoleId'))} but is not configured")
            if line not in warns:
                warns.append(line)
        elif is_group and (group is None or group.get("securityEnabled")):
            also.append((str(name), role_label(state, a.get("appRoleId"))))
    # the other assignments in the order people read names ('Team 2' before 'Team 10'), not Graph's
    warns[configured_warns:] = natural_sorted(warns[configured_warns:])
    also = natural_sorted(also, key=lambda a: a[0])
    ok_lines += _shown([f"also assigned (not configured): {name!r} -> {role}" for name, role in also])
    data = {"alsoAssigned": [{"group": name, "role": role} for name, role in also]} if also else {}
    users = sum(1 for a in assignments if a.get("principalType") == "User")
    if users:
        ok_lines.append(f"{users} user{'s' if users != 1 else ''} assigned directly")
    fixes = list(dict.fromkeys(fix))
    if fails:
        return CheckResult(GROUPS, "fail", f"{len(fails)} configured group{'s' if len(fails) != 1 else ''} not "
                                           "assigned as configured", details=fails + warns + ok_lines, data=data,
                           fix="; ".join(fixes) or "natoma-entra assign")
    if warns:
        fixes_w = []
        if any("assigned but" in w for w in warns):
            fixes_w.append("assign security groups only (Microsoft 365 and distribution groups are not the guide's "
                           "way); remove the others in Enterprise applications -> Users and groups")
        if any("but is not configured" in w for w in warns):
            fixes_w.append("add the principals holding a Natoma role to the config, or remove their grants with "
                           "`natoma-entra assign --prune` (a user's own grant with `--prune-user NAME`)")
        return CheckResult(GROUPS, "warn", "assigned groups need a look", details=warns + ok_lines, data=data,
                           fix="; ".join(fixes_w) or "configure the role groups")
    return CheckResult(GROUPS, "ok", f"{len(configured_ids)} configured group{'s' if len(configured_ids) != 1 else ''}"
                                     " assigned with their roles", details=ok_lines, data=data)


def _member_read_errors(state: DoctorState) -> list[str]:
    return [f"{group_label(state, k.split(':', 1)[1])}: {e.message}" for k, e in state.errors.items()
            if k.startswith("members:")]


def check_multiple(state: DoctorState) -> CheckResult:
    """Guide: "MultipleGrantsNotSupported" = the user is in several groups with different roles. Nobody detects this
    before provisioning picks one (no tool warns of it: docs/doctor.md): here it is, from the members of every assigned group."""
    if "assignments" in state.errors:
        return _error_result(MULTIPLE, state.errors["assignments"], "could not read the app's assignments")
    grants = grants_of(state)
    ids = grants._ids()
    several: list[dict] = []
    for i, gs in grants.grants_for(grants.several()).items():
        roles = _valued_roles(state, gs)
        if len(roles) > 1:
            several.append({"id": ids[i], "user": grants.label(i), "roles": roles})
    several.sort(key=lambda s: natural_key(s["user"]))  # Bench 2 before Bench 10
    lines = [f"{s['user']}: {_describe_roles(s['roles'])}" for s in several]
    unread = _member_read_errors(state)
    extra = [f"could not read the members of {u}" for u in unread]
    data = {"users": several, "users_in_scope": len(grants)}
    mode = mapping_mode(state.schema)
    if several and mode == "multi-role":
        return CheckResult(MULTIPLE, "ok", f"{len(several)} user{'s' if len(several) != 1 else ''} hold several "
                                           "roles; the multi-role mapping sends them all",
                           details=_shown(lines) + extra, data=data)
    if several:
        shown = _shown(lines)
        return CheckResult(MULTIPLE, "fail", f"{len(several)} user{'s get' if len(several) != 1 else ' gets'} two or "
                                             "more Natoma roles: MultipleGrantsNotSupported under SingleAppRoleAssignment",
                           details=shown + extra,
                           fix="keep each user in one Natoma role group, or send every role with "
                               "`natoma-entra mapping --multi-role`",
                           data=data)
    if unread:
        return CheckResult(MULTIPLE, "warn", "could not read the members of every assigned group", details=extra,
                           fix=next((e.fix for k, e in state.errors.items() if k.startswith("members:") and e.fix),
                                    None), data=data)
    return CheckResult(MULTIPLE, "ok", f"each of the {len(grants)} user{'s' if len(grants) != 1 else ''} in scope "
                                       "gets one role", data=data)


def check_nested(state: DoctorState) -> CheckResult:
    """Nested group membership is not supported for app assignment (Entra known-issues): members of a group inside
    an assigned group are skipped unless they are also direct members (or assigned directly)."""
    if "assignments" in state.errors:
        return _error_result(NESTED, state.errors["assignments"], "could not read the app's assignments")
    grants = grants_of(state)
    skipped: dict[str, dict] = {}
    via: dict[str, list[str]] = {}
    for nid, members in state.nested.items():
        nname = group_label(state, nid)
        parents = [group_label(state, p) for p in state.nested_in.get(nid, [])]
        where = f"{nname} (in {', '.join(parents)})" if parents else nname
        for m in members:
            if not _is_user(m) or not m.get("id") or m["id"] in grants:
                continue
            skipped.setdefault(m["id"], m)
            if where not in via.setdefault(m["id"], []):
                via[m["id"]].append(where)
    errors = [f"{group_label(state, k.split(':', 1)[1])}: {e.message}" for k, e in state.errors.items()
              if k.startswith("nested:")]
    nested_names = [group_label(state, n) for n in state.nested]
    if skipped:
        rows = sorted(((_user_label(u), via[uid]) for uid, u in skipped.items()), key=lambda r: natural_key(r[0]))
        lines = [f"{label}: only via {', '.join(w)}" for label, w in rows]
        shown = _shown(lines)
        return CheckResult(NESTED, "warn", f"{len(skipped)} user{'s' if len(skipped) != 1 else ''} will be skipped: "
                                           "members of nested groups only", details=shown + errors,
                           fix="add them directly to a Natoma role group (nested groups are not followed), or "
                               "assign the nested group itself with a role",
                           data={"users": [{"id": uid, "user": _user_label(u), "via": via[uid]}
                                           for uid, u in skipped.items()]})
    if errors:
        return CheckResult(NESTED, "warn", "could not read the members of every nested group", details=errors)
    if nested_names:
        return CheckResult(NESTED, "ok", "the users of nested groups are also direct members",
                           details=[f"nested groups: {_names(nested_names)}"])
    return CheckResult(NESTED, "ok", "no nested groups in the assigned groups")


def check_mapping(state: DoctorState) -> CheckResult:
    """Guide step 3: SingleAppRoleAssignment([appRoleAssignments]) -> roles[primary eq "True"].value (or the
    multi-role variant AssertiveAppRoleAssignmentsComplex -> roles)."""
    from ..steps.mapping import SchemaError, schema_change

    if "job" in state.errors:
        return _error_result(MAPPING, state.errors["job"], "could not read the provisioning job")
    if state.job is None:
        return CheckResult(MAPPING, "fail", "no provisioning job, so no attribute mapping",
                           fix="natoma-entra mapping (or natoma-entra setup)")
    if "schema" in state.errors or state.schema is None:
        err = state.errors.get("schema") or ReadError("the schema", "the job's schema was not read")
        return _error_result(MAPPING, err, "could not read the provisioning job's schema")
    mode = mapping_mode(state.schema)
    multi = (state.wanted_mode or mode) == "multi-role"
    fix = "natoma-entra mapping --multi-role" if multi else "natoma-entra mapping"
    try:
        p = schema_change(state.schema, multi_role=multi)
    except SchemaError as e:
        return CheckResult(MAPPING, "fail", e.message, fix=e.fix)
    wrong = [c for c in p.changes if c.action != "none"]
    if wrong:
        lines = []
        for c in wrong:
            why = c.detail.get("why")
            verb = {"create": "missing", "update": "to change", "delete": "to remove"}[c.action]
            lines.append(f"{verb}: {c.target}" + (f" ({why})" if why else ""))
        return CheckResult(MAPPING, "fail", "the user mapping does not send the Natoma role as the guide says",
                           details=lines + p.warnings, fix=fix, data={"mode": mode})
    from ..natoma_roles import MULTI_ROLE_EXPRESSION, MULTI_ROLE_TARGET, SINGLE_ROLE_EXPRESSION, SINGLE_ROLE_TARGET

    line = (f"{MULTI_ROLE_EXPRESSION} -> {MULTI_ROLE_TARGET}" if multi
            else f"{SINGLE_ROLE_EXPRESSION} -> {SINGLE_ROLE_TARGET}")
    return CheckResult(MAPPING, "warn" if p.warnings else "ok", line, details=p.warnings,
                       fix=fix if p.warnings else None, data={"mode": p.mode, "ruleId": p.rule_id})


def check_credentials(state: DoctorState) -> CheckResult:
    """Guide step 4: Tenant URL and Secret Token saved, the connection test passes, scope = assigned only."""
    from ..steps.credentials import MASKED, SCOPE_LABEL, has_token, readable

    rotate = "NATOMA_SCIM_TOKEN=<a fresh token from Natoma> natoma-entra credentials --rotate"
    if "secrets" in state.errors:
        return _error_result(CREDENTIALS, state.errors["secrets"], "could not read the saved credentials")
    stored = state.secrets or {}
    details: list[str] = []
    fails: list[str] = []
    warns: list[str] = []
    fix = None
    if state.secrets_unreadable:
        warns.append("the saved credentials cannot be read back; only the connection test can tell")
    base = stored.get("BaseAddress")
    if not state.secrets_unreadable:
        if not base and not has_token(stored):
            return CheckResult(CREDENTIALS, "fail", "no SCIM credentials saved (Tenant URL and secret token)",
                               fix="NATOMA_SCIM_TOKEN=<token> natoma-entra credentials")
        if not base:
            fails.append("no Tenant URL (BaseAddress) saved")
        elif base != MASKED:
            details.append(f"Tenant URL: {base}")
            if state.config_url and base != state.config_url:
                warns.append(f"the saved Tenant URL is {base}, the config says {state.config_url}")
        if not has_token(stored):
            fails.append("no secret token saved")
        sync_all = (readable(stored.get("SyncAll")) or "").strip().lower()
        if sync_all == "true":
            fails.append("scope is 'sync all users and groups' (SyncAll true): SingleAppRoleAssignment is not "
                         "compatible with Sync All; the guide's scope is assigned users and groups only")
        elif sync_all == "false":
            details.append(f"scope: {SCOPE_LABEL['assigned']}")
        else:
            warns.append("the saved scope cannot be read (SyncAll missing or masked)")
        if fails:
            fix = "NATOMA_SCIM_TOKEN=<token> natoma-entra credentials"
            if sync_all == "true":
                fix += " (scope assigned), then natoma-entra start --restart"
    test = state.connection_test
    if "connection" in state.errors:
        e = state.errors["connection"]
        warns.append(f"the connection test could not run: {e.message}")
        fix = fix or e.fix
    elif test == "passed":
        details.append("connection test with the saved credentials: passed")
    elif test is not None:
        fails.append(f"the connection test with the saved credentials fails: {test}")
        fix = f"{rotate} (check the Tenant URL too)"
    elif not fails:
        warns.append("the connection test was not run")
    if fails:
        return CheckResult(CREDENTIALS, "fail", fails[0], details=fails[1:] + warns + details, fix=fix,
                           data={"connection_test": test})
    if warns:
        return CheckResult(CREDENTIALS, "warn", warns[0], details=warns[1:] + details,
                           fix=fix or "natoma-entra credentials", data={"connection_test": test})
    return CheckResult(CREDENTIALS, "ok", "saved, scope assigned only, connection test passed", details=details,
                       data={"connection_test": test})


def check_job(state: DoctorState) -> CheckResult:
    """Guide step 4 "Start provisioning", and "changes not showing" (the 40-minute cycle)."""
    from ..steps.start import is_running, job_info, quarantine_reason

    if "job" in state.errors:
        return _error_result(JOB, state.errors["job"], "could not read the provisioning job")
    if state.job is None:
        return CheckResult(JOB, "fail", "no provisioning job", fix="natoma-entra setup (or mapping, credentials, "
                                                                 "start)")
    info = job_info(state.job)
    details = [f"status {info.get('status')}, schedule {info.get('schedule')}"]
    if info.get("last_cycle"):
        details.append(f"last cycle: {info['last_cycle']}" +
                       (f" at {info['last_cycle_time']}" if info.get("last_cycle_time") else ""))
    q = obj(state.job.get("status")).get("quarantine")
    if info.get("status") == "Quarantine" or isinstance(q, dict):
        reason = quarantine_reason(state.job) or "quarantined"
        if isinstance(q, dict) and q.get("nextAttempt"):
            details.append(f"next attempt: {q['nextAttempt']}")
        return CheckResult(JOB, "fail", f"the job is in quarantine: {reason}", details=details,
                           fix="fix the cause (for a refused connection: "
                               "`natoma-entra credentials --rotate` with a fresh token), then "
                               "`natoma-entra start --restart`", data=info)
    if not is_running(state.job):
        return CheckResult(JOB, "fail", f"the job is not running ({details[0]})", details=details[1:],
                           fix="natoma-entra start", data=info)
    from ..render.values import duration

    interval = duration(info.get("interval") or "") or "40 minutes"
    cycle_note = (f"Entra runs a cycle every {interval} (Entra sets the interval); "
                  "to see a change now: natoma-entra provision USER")
    last = info.get("last_cycle")
    if last and last not in ("Succeeded",):
        err = f" ({info['last_cycle_error']})" if info.get("last_cycle_error") else ""
        return CheckResult(JOB, "warn", f"running; the last cycle ended {last}{err}", details=details + [cycle_note],
                           fix="see natoma-entra logs --errors", data=info)
    summary = "running" + ("; the last cycle succeeded" if last else "; the first cycle has not finished yet")
    return CheckResult(JOB, "ok", summary, details=details + [cycle_note], data=info)


def check_user(state: DoctorState) -> CheckResult:
    """--user: is this user assigned, through which groups, with which role(s)?"""
    if "user" in state.errors or state.user is None:
        err = state.errors.get("user") or ReadError("the user", f"no user {state.user_ref!r}")
        return _error_result(USER, err, f"could not find the user {state.user_ref!r}")
    u = state.user
    label = _user_label(u)
    grants = grants_of(state)
    i = grants.scope.index.get(u["id"])
    mine = grants.grants_for([i])[i] if i is not None else []
    groups = [str(g.get("displayName") or g.get("id")) for g in state.user_groups or []
              if g.get("@odata.type", GROUP_TYPE) == GROUP_TYPE]
    details = [f"direct groups: {_names(groups)}" if groups else "direct groups: none"]
    if not mine:
        nested = [f"{group_label(state, n)}" for n, ms in state.nested.items() if any(m.get("id") == u["id"] for m in ms)]
        if nested:
            return CheckResult(USER, "fail", f"{label} is skipped: only in nested group {', '.join(nested)}",
                               details=details, fix="add the user directly to a Natoma role group")
        return CheckResult(USER, "fail", f"{label} is not assigned to the app: provisioning skips the user",
                           details=details, fix="add the user to a Natoma role group (a group assigned with its role)")
    lines = [f"{role_label(state, g.role_id)} via {'direct assignment' if g.via == 'direct' else g.via}" for g in mine]
    roles = _valued_roles(state, mine)
    data = {"user": label, "grants": lines, "roles": sorted(roles)}
    if len(roles) > 1 and mapping_mode(state.schema) != "multi-role":
        return CheckResult(USER, "fail", f"{label} gets {len(roles)} roles: MultipleGrantsNotSupported under "
                                         "SingleAppRoleAssignment", details=lines + details,
                           fix="keep the user in one Natoma role group, or `natoma-entra mapping --multi-role`",
                           data=data)
    if not roles:
        return CheckResult(USER, "fail", f"{label} is assigned without a role: provisioned with the role missing",
                           details=lines + details, fix="edit the assignment and select a role", data=data)
    natoma = [v for v in roles if v in ROLE_VALUES]
    verdict: Verdict = "ok" if natoma else "warn"
    return CheckResult(USER, verdict, f"{label} is provisioned as {', '.join(sorted(roles))}", details=lines + details,
                       fix=None if natoma else "give the user a Natoma role", data=data)


def check_permissions(state: DoctorState) -> CheckResult:
    """The permission preflight (natoma_entra/preflight.py) for every command: which ones this identity can run,
    and for the others what is missing and how to grant it."""
    from ..permissions import TABLE_ORDER, label
    from ..preflight import command_needs

    view = state.token
    if view.claims is None:
        return CheckResult(PERMISSIONS, "ok", f"not checked: the access token's claims cannot be read ({view.why})",
                           details=["a missing permission shows as the 403 of the request that needs it"],
                           data={"checked": False, "why": view.why})
    rows = []
    for command in TABLE_ORDER:
        judged = view.judge(command_needs(command))
        rows.append({"command": label(command), "ok": judged.ok, "notes": judged.notes,
                     "missing": [m.model_dump(mode="json") for m in judged.missing]})
    who = f"{view.claims.identity} ({view.claims.sign_in} sign-in)"
    data = {"checked": True, "sign_in": view.claims.sign_in, "identity": view.claims.identity, "commands": rows}
    short = [r for r in rows if not r["ok"]]
    notes = list(dict.fromkeys(n for r in rows for n in r["notes"]))
    if not short:
        return CheckResult(PERMISSIONS, "ok", f"{who} holds what every command needs", details=notes, data=data)
    details = [f"{r['command']}: missing {', '.join(m['permission'] for m in r['missing'])}" for r in short]
    return CheckResult(PERMISSIONS, "warn", f"{who} cannot run {_names([r['command'] for r in short])}",
                       details=details + notes, fix="grant what each command lacks: see the permissions table "
                                                    "(natoma-entra docs permissions)", data=data)


def checks(state: DoctorState) -> list[CheckResult]:
    """Every check, in order. Without the app, only the app check (nothing else can be read)."""
    first = check_app(state)
    if first.verdict == "fail":
        return [first]
    out = [first, check_roles(state), check_role_missing(state), check_groups(state), check_multiple(state),
           check_nested(state), check_mapping(state), check_credentials(state), check_job(state)]
    if state.token is not None:
        out.append(check_permissions(state))
    if state.user_ref:
        out.append(check_user(state))
    return out
