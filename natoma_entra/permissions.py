"""What each Graph request and each command needs: application and delegated permissions, and the Entra role.

One table, used by the 403 hints (graph/errors.py) and the docs' permissions page (docs/permissions.md, checked
against `markdown()` by a test). Each row follows the "Permissions" section of the Microsoft Graph v1.0 reference page
it names (learn.microsoft.com/graph/api/...). Where a page's least-privileged application permission is
Application.ReadWrite.OwnedBy, that covers only apps the caller owns, so the permission that works for any app comes
first and OwnedBy is the alternative.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# Entra roles for delegated sign-in (cli, device-code, browser). The synchronization pages list Application
# Administrator and Cloud Application Administrator as least privileged (an owner of the app may also manage it);
# "List provisioningObjectSummary" also admits Reports Reader, Security Reader, Security Operator, Global Reader.
APP_ADMIN = ("Cloud Application Administrator", "Application Administrator")
LOG_READERS = ("Reports Reader", "Security Reader", "Security Operator", "Global Reader") + APP_ADMIN
OWNED_BY = "Application.ReadWrite.OwnedBy, for an app the caller owns"


@dataclass(frozen=True)
class Request:
    key: str
    method: str       # regex over the HTTP method
    path: str         # regex searched in the path after /v1.0
    page: str         # the Microsoft Graph reference page (its title)
    application: str  # application permission(s) to grant; "A and B" means both
    delegated: str    # delegated permission(s)
    roles: tuple[str, ...] = ()  # Entra roles for delegated use; () = any member user may call it
    alternatives: tuple[str, ...] = ()  # other application permissions the page accepts

    @property
    def hint(self) -> str:
        return self.application + (f" (or {' or '.join(self.alternatives)})" if self.alternatives else "")


SYNC_WRITE_ALT = (OWNED_BY,)
SYNC_READ_ALT = ("Synchronization.ReadWrite.All", OWNED_BY)

REQUESTS: tuple[Request, ...] = (
    Request("provisioning-logs", "GET", r"^/auditLogs/provisioning", "List provisioningObjectSummary",
            "AuditLog.Read.All and Directory.Read.All", "AuditLog.Read.All and Directory.Read.All", LOG_READERS),
    Request("instantiate-template", "POST", r"^/applicationTemplates/[^/]+/instantiate", "applicationTemplate: instantiate",
            "Application.ReadWrite.All", "Application.ReadWrite.All", APP_ADMIN, (OWNED_BY,)),
    Request("delete-application", "DELETE", r"^/applications/[^/]+$", "Delete application",
            "Application.ReadWrite.All", "Application.ReadWrite.All", APP_ADMIN, (OWNED_BY,)),
    Request("delete-service-principal", "DELETE", r"^/servicePrincipals/[^/]+$", "Delete servicePrincipal",
            "Application.ReadWrite.All", "Application.ReadWrite.All", APP_ADMIN, (OWNED_BY, "Directory.ReadWrite.All")),
    # group-upsert.md's table: Group.ReadWrite.All, application and delegated (its text also speaks of Group.Create)
    Request("upsert-group", "PATCH", r"^/groups\(uniqueName=.*", "Upsert group", "Group.ReadWrite.All",
            "Group.ReadWrite.All", (), ("Directory.ReadWrite.All",)),
    Request("delete-group", "DELETE", r"^/groups/[^/]+$", "Delete group", "Group.ReadWrite.All",
            "Group.ReadWrite.All", ()),
    Request("update-application", "PATCH", r"^/applications", "Update application",
            "Application.ReadWrite.All", "Application.ReadWrite.All", APP_ADMIN, (OWNED_BY,)),
    Request("grant-assignment", "POST", r"^/servicePrincipals/[^/]+/appRoleAssignedTo$",
            "Grant an appRoleAssignment for a service principal",
            "AppRoleAssignment.ReadWrite.All and Application.Read.All",
            "AppRoleAssignment.ReadWrite.All and Application.Read.All", APP_ADMIN,
            ("AppRoleAssignment.ReadWrite.All and Directory.Read.All",)),
    Request("delete-assignment", "DELETE", r"^/servicePrincipals/[^/]+/appRoleAssignedTo/[^/]+",
            "Delete appRoleAssignedTo", "AppRoleAssignment.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", APP_ADMIN),
    Request("list-assignments", "GET", r"^/servicePrincipals/[^/]+/appRoleAssignedTo",
            "List appRoleAssignments granted for a service principal", "Application.Read.All",
            "Application.Read.All", (), ("Directory.Read.All", "Application.ReadWrite.All")),
    Request("user-assignments", "GET", r"^/users/[^/]+/appRoleAssignments", "List appRoleAssignments granted to a user",
            "Directory.Read.All", "AppRoleAssignment.ReadWrite.All", (), ("AppRoleAssignment.ReadWrite.All",)),
    Request("group-assignments", "GET", r"^/groups/[^/]+/appRoleAssignments", "List appRoleAssignments granted to a group",
            "Directory.Read.All", "Directory.Read.All", (), ("AppRoleAssignment.ReadWrite.All",)),
    Request("sync-read", "GET", r"/synchronization", "Get synchronizationJob (and List synchronization jobs, "
            "List templates, Get synchronizationSchema)", "Synchronization.Read.All", "Synchronization.Read.All",
            APP_ADMIN, SYNC_READ_ALT),
    Request("sync-write", "POST|PUT|PATCH|DELETE", r"/synchronization",
            "Create synchronizationJob (and Add synchronization secrets, Update synchronizationSchema, "
            "validateCredentials, Start, Restart, Pause, provisionOnDemand)",
            "Synchronization.ReadWrite.All", "Synchronization.ReadWrite.All", APP_ADMIN, SYNC_WRITE_ALT),
    Request("user-memberof", "GET", r"^/users/[^/]+/(transitiveMemberOf|memberOf)", "List a user's direct memberships",
            "Directory.Read.All", "User.Read.All", (), ("Directory.ReadWrite.All",)),
    Request("group-members", "GET", r"^/groups/[^/]+/(transitiveMembers|members|memberOf)",
            "List group members (and List group transitive members)",
            "GroupMember.Read.All and User.Read.All", "GroupMember.Read.All and User.Read.All", (),
            ("Group.Read.All and User.Read.All", "Directory.Read.All")),
    Request("read-groups", "GET", r"^/groups", "List groups (and Get group)", "GroupMember.Read.All",
            "GroupMember.Read.All", (), ("Group.Read.All", "Directory.Read.All")),
    Request("read-users", "GET", r"^/users", "List users (and Get user)", "User.Read.All", "User.Read.All", (),
            ("Directory.Read.All",)),
    Request("read-applications", "GET", r"^/(applications|servicePrincipals|applicationTemplates)",
            "List applications (and Get application, List servicePrincipals, Get servicePrincipal)",
            "Application.Read.All", "Application.Read.All", (), ("Application.ReadWrite.All", "Directory.Read.All")),
)

# The requests each command may send (sandbox runs of every command check this list is complete).
_FIND_APP = ("read-applications",)
_JOB_READ = _FIND_APP + ("sync-read",)
COMMANDS: dict[str, tuple[str, ...]] = {
    "roles": _FIND_APP + ("update-application",),
    "assign": _FIND_APP + ("read-groups", "list-assignments", "grant-assignment", "delete-assignment"),
    "mapping": _JOB_READ + ("sync-write", "update-application"),  # a job it creates is recorded on the app
    "credentials": _JOB_READ + ("sync-write", "update-application"),
    "start": _JOB_READ + ("sync-write",),
    "provision": _JOB_READ + ("read-users", "sync-write"),
    "status": _JOB_READ + ("read-groups", "list-assignments", "sync-write"),
    "doctor": _JOB_READ + ("read-groups", "read-users", "list-assignments", "group-members", "user-memberof",
                           "sync-write"),
    "logs": _JOB_READ + ("read-users", "provisioning-logs"),  # the job id is what the log filter uses
}
COMMANDS["setup"] = tuple(dict.fromkeys(COMMANDS["roles"] + COMMANDS["assign"] + COMMANDS["mapping"]
                                        + COMMANDS["credentials"] + COMMANDS["start"]))
# Bootstrapping and taking down (issue 14): `app create` (and setup --create-app) adds the template's instantiate and
# the PATCH that records the new app (natoma_entra/marks.py); --create-groups adds the group upsert and the PATCH that
# records the group on the app; teardown deletes only what the tool made (issue 22: docs/teardown.md), reading what
# else depends on it first (a group's members and grants).
COMMANDS["app"] = _FIND_APP + ("instantiate-template", "update-application")
COMMANDS["create-groups"] = ("upsert-group", "update-application")
COMMANDS["export"] = _JOB_READ + ("read-groups", "list-assignments")
# probe (issue 25): the reads that settle the open behaviours of docs/graph-assumptions.md, the connection tests
# (read-only POSTs documented under Synchronization.ReadWrite.All) and the provisioning-log filters
COMMANDS["probe"] = _JOB_READ + ("list-assignments", "sync-write", "provisioning-logs")
COMMANDS["teardown"] = _JOB_READ + ("read-groups", "list-assignments", "delete-assignment", "update-application",
                                    "sync-write", "group-members", "group-assignments", "delete-group",
                                    "delete-service-principal", "delete-application")
_LABELS = {"app": "app create (and setup --create-app)", "create-groups": "--create-groups (in addition)"}
BY_KEY = {r.key: r for r in REQUESTS}
# the commands in the order the permissions page and doctor's permissions check list them
TABLE_ORDER = ("setup", "roles", "assign", "mapping", "credentials", "start", "provision", "status", "doctor", "logs",
               "app", "create-groups", "export", "teardown", "probe")


def request_for(method: str, path: str) -> Request | None:
    path = re.sub(r"^/v1\.0|^/beta", "", path.split("?", 1)[0])
    for r in REQUESTS:
        if re.fullmatch(r.method, method.upper()) and re.search(r.path, path):
            return r
    return None


def names(text: str) -> list[str]:
    """The permission names in a text (e.g. 'AuditLog.Read.All and Directory.Read.All')."""
    return re.findall(r"\b[A-Z][A-Za-z]+(?:\.[A-Za-z]+)+\b", text)


def for_command(command: str) -> dict:
    """The application permissions (each needed), delegated permissions and Entra roles for a command."""
    reqs = [BY_KEY[k] for k in COMMANDS[command]]
    app, dele = _needed(reqs, "application"), _needed(reqs, "delegated")
    roles = [role for role in APP_ADMIN if any(r.roles for r in reqs)]
    if command == "logs":
        roles = list(LOG_READERS)
    return {"application": list(app), "delegated": list(dele), "roles": roles}


def _needed(reqs: list[Request], kind: str) -> list[str]:
    """The permissions of `kind` (application or delegated) a command's requests need, in the order they come: each
    request's first choice, unless an alternative the page accepts is a write permission held anyway for the
    command's other requests (teardown lists a group's grants with the AppRoleAssignment.ReadWrite.All it deletes
    assignments with, not with Directory.Read.All besides)."""
    first = {r.key: names(getattr(r, kind)) for r in reqs}
    kept: set[str] = set()
    for req in reqs:
        others = {n for r in reqs if r is not req for n in first[r.key]}
        alt = next((names(a) for a in req.alternatives if OWNED_BY not in a and names(a)
                    and all(".ReadWrite." in n for n in names(a)) and set(names(a)) <= others), None)
        kept |= set(alt if alt is not None else first[req.key])
    return [n for n in _implied_dropped(n for r in reqs for n in first[r.key])
            if n in kept or n.replace(".Read.", ".ReadWrite.") in kept]


def _implied_dropped(perms) -> list[str]:
    """Unique, without X.Read.All where X.ReadWrite.All is also needed (the wider one includes it)."""
    perms = list(dict.fromkeys(perms))
    return [p for p in perms if p.replace(".Read.", ".ReadWrite.") == p or p.replace(".Read.", ".ReadWrite.") not in perms]


def label(command: str) -> str:
    """How the permissions page and doctor name a COMMANDS row ("app create (and setup --create-app)")."""
    return _LABELS.get(command, command)


def markdown() -> str:
    """The generated tables of docs/permissions.md (kept in sync by tests/docs/test_permissions_page.py)."""
    lines = ["| command | application permissions (all of) | delegated permissions (all of) | Entra role (delegated) |",
             "|---|---|---|---|"]
    for cmd in TABLE_ORDER:
        p = for_command(cmd)
        roles = " or ".join(p["roles"]) if p["roles"] else "none (any member user)"
        lines.append(f"| `{label(cmd)}` | {', '.join(p['application'])} | {', '.join(p['delegated'])} | {roles} |")
    lines += ["", "| request | reference page | application | delegated | Entra role (delegated) |",
              "|---|---|---|---|---|"]
    for r in REQUESTS:
        roles = " or ".join(r.roles) if r.roles else "any member user"
        lines.append(f"| `{r.method.replace('|', ' ')} {_show(r.path)}` | {r.page} | {r.hint} | {r.delegated} | {roles} |")
    return "\n".join(lines) + "\n"


def show_path(pattern: str) -> str:
    """A readable path from a path regex (the permissions page's, and the preflight's, way to name a request)."""
    return _show(pattern)


def _show(pattern: str) -> str:
    """A readable path from a path regex."""
    text = pattern.rstrip("$").replace("[^/]+", "{id}").replace(".*", "...")
    text = text[1:] if text.startswith("^") else "/servicePrincipals/{id}" + text + ("/..." if text == "/synchronization" else "")
    text = re.sub(r"\(([^)]*)\)", lambda m: m.group(1).replace("|", " or "), text)
    return text.replace("\\", "")
