"""Permission preflight: before the first write, compare what the Graph access token carries (token_claims.py) with
what natoma_entra/permissions.py says the planned operations need, and stop with exit 2, nothing written, when
something is missing: one line per missing permission, naming the operation that needs it and how to grant it.

What counts as enough, per request (permissions.py follows each request's Graph reference page):
- an app-only token: one of the request's options (the first permission set, or an alternative) held in `roles`,
  X.ReadWrite.All standing for X.Read.All. Application.ReadWrite.OwnedBy counts only for an object the caller owns
  (Graph permissions reference, learn.microsoft.com/graph/permissions-reference): ownership is read when a request
  relies on it, and unknown ownership is a note, not a stop.
- a delegated token: the delegated permission in `scp`, and where the page asks for an Entra role (the
  synchronization pages: "Application Administrator, Cloud Application Administrator", e.g.
  synchronization-synchronization-post-jobs.md) one of those roles, or Global Administrator, in `wids`, or the
  user owning the object ("the signed-in user must be an owner ... or be assigned a supported Microsoft Entra role").
  Custom roles are not in `wids`: NATOMA_ENTRA_PREFLIGHT=warn turns the stop into a warning for them.

A token whose claims cannot be read (not a JWT, encrypted) gives a note and the run goes on: a missing permission
then shows as the 403 of the request that needs it, as before.

The hook: `before_writes(session, plans)` (the runner calls it after planning, before the first apply); the pure
parts are `needs_of`, `evaluate` and `grant_for`, which doctor's permissions check reuses for every command.
"""
from __future__ import annotations

import os
import re
from typing import Any, Callable, Iterable, Literal

from pydantic import BaseModel, Field

from . import permissions
from .errors import UsageError
from .token_claims import Claims

PREFLIGHT_ENV = "NATOMA_ENTRA_PREFLIGHT"  # "warn": say what is missing and write anyway
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"  # Microsoft Graph's appId, the same in every tenant
AZURE_CLI_APP_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"  # the Azure CLI's public client (--auth cli)
OWNED_BY = "Application.ReadWrite.OwnedBy"
# the Azure CLI's own flags the grant commands below use (not natoma-entra's: tests/cli/test_help_and_inputs.py)
AZ_FLAGS = frozenset({"--id", "--api", "--api-permissions", "--scope", "--method", "--uri", "--body", "--query"})

# Microsoft Graph's app role ids (application permissions) and delegated scope ids, as its service principal lists
# them in every tenant (`az ad sp show --id 00000003-0000-0000-c000-000000000000`, appRoles and
# oauth2PermissionScopes; Graph permissions reference, learn.microsoft.com/graph/permissions-reference).
APP_ROLE_IDS = {
    "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    "Application.ReadWrite.All": "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
    OWNED_BY: "18a4783c-866b-4cc7-a460-3d5e5662c884",
    "AppRoleAssignment.ReadWrite.All": "06b708a9-e830-4db3-a914-8e69da51d44f",
    "AuditLog.Read.All": "b0afded3-3588-46d8-8b3d-9842eff778da",
    "Directory.Read.All": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
    "Directory.ReadWrite.All": "19dbc75e-c2e2-444c-a770-ec69d8559fc7",
    "Group.Create": "bf7b1a76-6e77-406b-b258-bf5c7720e98f",
    "Group.Read.All": "5b567255-7703-4780-807c-7be8301ae99b",
    "Group.ReadWrite.All": "62a82d76-70ea-41e2-9197-370581804d09",
    "GroupMember.Read.All": "98830695-27a2-44f7-8c18-0c3ebc9698f6",
    "Synchronization.Read.All": "5ba43d2f-fa88-4db2-bd1c-a67c5f0fb1ce",
    "Synchronization.ReadWrite.All": "9b50c33d-700f-43b1-b2eb-87e89b703581",
    "User.Read.All": "df021288-bdef-4463-88db-98f22de89214",
}
SCOPE_IDS = {
    "Application.Read.All": "c79f8feb-a9db-4090-85f9-90d820caa0eb",
    "Application.ReadWrite.All": "bdfbf15f-ee85-4955-8675-146e8e5296b5",
    "AppRoleAssignment.ReadWrite.All": "84bccea3-f856-4a8a-967b-dbe0a3d53a64",
    "AuditLog.Read.All": "e4c9e354-4dc5-45b8-9e7c-e1393b0b1a20",
    "Directory.Read.All": "06da0dbc-49e2-44d2-8312-53f166ab848a",
    "Directory.ReadWrite.All": "c5366453-9fb0-48a5-a156-24f0c49a4b84",
    "Group.Read.All": "5f8c59db-677d-491f-a6b8-5f174b11ec1d",
    "Group.ReadWrite.All": "4e46008b-f24c-477d-8fff-7bb4ec7aafe0",
    "GroupMember.Read.All": "bc024368-1153-4739-b217-4326f2e966d0",
    "Synchronization.Read.All": "7aa02aeb-824f-4fbe-a3f7-611f751f5b55",
    "Synchronization.ReadWrite.All": "7bb27fa3-ea8f-4d67-a916-87715b6188bd",
    "User.Read.All": "a154be20-db9c-4678-8ab7-66f6cc099a59",
}
# Entra built-in role template ids ("Microsoft Entra built-in roles", learn.microsoft.com/entra/identity/
# role-based-access-control/permissions-reference): what `wids` holds.
ROLE_IDS = {
    "Application Administrator": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
    "Cloud Application Administrator": "158c047a-c907-4556-b7ef-446551a6b5f7",
    "Global Administrator": "62e90394-69f5-4237-9190-012177145e10",
    "Global Reader": "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
    "Reports Reader": "4a5d8f65-41da-4de4-8968-e035b65339cf",
    "Security Operator": "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f",
    "Security Reader": "5d6b6bb7-de71-4623-b4af-96380a352509",
}
GLOBAL_ADMIN = "Global Administrator"

Kind = Literal["application", "delegated", "directory-role", "ownership"]


class Need(BaseModel):
    """One planned operation and the permissions.py row it falls under."""

    request: str  # permissions.REQUESTS key
    operation: str  # what needs it, for people: "mapping: PUT /servicePrincipals/.../schema"
    owner_of: Literal["application", "servicePrincipal", "new"] | None = None  # whose ownership OwnedBy needs


class Grant(BaseModel):
    az: list[str] = Field(default_factory=list)  # commands, in order
    portal: str = ""


class Missing(BaseModel):
    permission: str  # a Graph permission, an Entra role, or "owner of ..."
    kind: Kind
    needed_by: list[str] = Field(default_factory=list)  # the operations
    alternatives: list[str] = Field(default_factory=list)  # other ways the pages accept
    grant: Grant = Field(default_factory=Grant)

    def line(self) -> str:
        what = {"application": "the Microsoft Graph application permission",
                "delegated": "the delegated Microsoft Graph permission",
                "directory-role": "the Entra role", "ownership": "ownership:"}[self.kind]
        ops = "; ".join(self.needed_by[:3]) + (f" and {len(self.needed_by) - 3} more" if len(self.needed_by) > 3 else "")
        text = f"missing {what} {self.permission}, needed for {ops}. Grant it: {' && '.join(self.grant.az)}"
        if self.grant.portal:
            text += f" (portal: {self.grant.portal})"
        if self.alternatives:
            text += f"; or instead: {' or '.join(self.alternatives)}"
        return text


class PreflightResult(BaseModel):
    """What the preflight found: `checked` False when the token's claims could not be read (`note` says why)."""

    checked: bool
    sign_in: str | None = None  # application / delegated
    identity: str | None = None
    missing: list[Missing] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    note: str | None = None

    @property
    def ok(self) -> bool:
        return not self.missing


class PermissionsMissing(UsageError):
    """Exit 2 before any write: `lines()` gives one stderr line per missing permission, `report` the JSON table."""

    def __init__(self, result: PreflightResult, command: str | None = None):
        n = len(result.missing)
        super().__init__(f"{result.identity or 'the signed-in identity'} lacks {n} Microsoft Graph permission"
                         f"{'s' if n != 1 else ''} this run needs; nothing was written",
                         fix=result.missing[0].line() if n == 1
                         else "grant each one listed (natoma-entra docs permissions)")
        self.result = result
        self.command = command
        self.report = {"permissions": result.model_dump(mode="json")}

    def lines(self) -> list[str]:
        head = f"{self.command}: " if self.command else ""
        return [f"{head}{m.line()}; nothing was written" for m in self.result.missing]


# -- what operations need ---------------------------------------------------------------------------------------

# Plans name an object not created yet with a placeholder ("(the app)/synchronization/jobs", "(the new job)/start",
# "/applications/{new}"): read as the request they become.
_PLACEHOLDERS = ((re.compile(r"^\(the (new )?job\)"), "/servicePrincipals/{sp}/synchronization/jobs/{job}"),
                 (re.compile(r"^\(the app\)"), "/servicePrincipals/{sp}"))


def request_path(path: str) -> str:
    for rx, repl in _PLACEHOLDERS:
        if rx.match(path):
            return rx.sub(repl, path, count=1)
    return path


def _owner_of(request: str, path: str) -> Literal["application", "servicePrincipal", "new"] | None:
    if request == "instantiate-template" or "{new}" in path:
        return "new"  # the caller creates it: an app made with OwnedBy is owned by its creator
    if path.startswith("/applications"):
        return "application"
    if path.startswith("/servicePrincipals"):
        return "servicePrincipal"
    return None


def needs_of(operations: Iterable[tuple[str, str, str]]) -> tuple[list[Need], list[str]]:
    """Pure: (the needs of (step, method, path) operations, the operations permissions.py has no row for)."""
    needs, unknown = [], []
    for step, method, path in operations:
        real = request_path(path)
        req = permissions.request_for(method, real)
        label = f"{step}: {method} {path}" if step else f"{method} {path}"
        if req is None:
            unknown.append(label)
            continue
        needs.append(Need(request=req.key, operation=label, owner_of=_owner_of(req.key, real)))
    return needs, unknown


def write_requests(commands: Iterable[str]) -> list[str]:
    """Pure: the request keys of permissions.COMMANDS rows that are not plain reads, for commands (step names)."""
    keys = [k for c in commands for k in permissions.COMMANDS.get(c, ())]
    return [k for k in dict.fromkeys(keys) if permissions.BY_KEY[k].method != "GET"]


def command_needs(command: str) -> list[Need]:
    """Pure: every request permissions.COMMANDS lists for a command (doctor's table), as needs."""
    out = []
    for key in permissions.COMMANDS[command]:
        r = permissions.BY_KEY[key]
        out.append(Need(request=key, operation=f"{r.method.replace('|', '/')} {permissions.show_path(r.path)}",
                        owner_of=_owner_of(key, permissions.show_path(r.path))))
    return out


# -- judging ----------------------------------------------------------------------------------------------------

def _implied(held: Iterable[str]) -> set[str]:
    """What a set of permissions covers: X.ReadWrite.All includes X.Read.All."""
    out = set(held)
    out |= {p.replace(".ReadWrite.", ".Read.") for p in out if ".ReadWrite." in p}
    return out


def _options(req: permissions.Request, sign_in: str) -> list[list[str]]:
    """The permission sets that each satisfy the request, first the one the page names first."""
    first = req.application if sign_in == "application" else req.delegated
    alts = [a for a in req.alternatives if sign_in == "application" or OWNED_BY not in a]
    return [permissions.names(o) for o in [first, *alts] if permissions.names(o)]


def evaluate(claims: Claims, needs: list[Need], *, owns: dict[str, bool | None] | None = None,
             graph_url: str = "https://graph.microsoft.com/v1.0", auth: str | None = None) -> PreflightResult:
    """Pure: what the token lacks for the needs. `owns` says whether the caller owns the app's application and
    service principal ({"application": True, "servicePrincipal": None}: None = not known)."""
    owns = owns or {}
    held = _implied(claims.held)
    result = PreflightResult(checked=True, sign_in=claims.sign_in, identity=claims.identity)
    found: dict[tuple[str, str], Missing] = {}
    noted: set[str] = set()

    def add(permission: str, kind: Kind, need: Need, alternatives: list[str]) -> None:
        key = (kind, permission)
        if key not in found:
            found[key] = Missing(permission=permission, kind=kind, alternatives=alternatives,
                                 grant=grant_for(permission, kind, claims, graph_url=graph_url, auth=auth))
        if need.operation not in found[key].needed_by:
            found[key].needed_by.append(need.operation)

    for need in needs:
        req = permissions.BY_KEY[need.request]
        options = _options(req, claims.sign_in)
        satisfied = any(OWNED_BY not in o and all(n in held for n in o) for o in options)
        if not satisfied and any(OWNED_BY in o and all(n in held for n in o) for o in options):
            known = True if need.owner_of == "new" else owns.get(need.owner_of or "")
            if known is None:
                satisfied = True
                note = (f"{need.operation} relies on {OWNED_BY}: it works only if {claims.identity} owns the "
                        f"app's {need.owner_of or 'object'} (not checked)")
                if note not in noted:
                    noted.add(note)
                    result.notes.append(note)
            elif known:
                satisfied = True
            else:
                plain = [o for o in options if OWNED_BY not in o]
                add(f"owner of the app's {need.owner_of}", "ownership", need,
                    [f"grant {' and '.join(plain[0])}"] if plain else [])
                satisfied = True  # said once, as ownership
        if not satisfied:
            plain = [o for o in options if OWNED_BY not in o] or options
            best = min(plain, key=lambda o: len([n for n in o if n not in held]))  # ties: the page's first
            others = [" and ".join(o) + (" (for an app the caller owns)" if OWNED_BY in o else "")
                      for o in options if o is not best]
            for name in best:
                if name not in held:
                    add(name, claims.sign_in, need, others)
        if claims.sign_in == "delegated" and req.roles:
            _check_role(claims, need, req, owns, result, add, noted)
    result.missing = list(found.values())
    return result


def _check_role(claims: Claims, need: Need, req: permissions.Request, owns: dict[str, bool | None],
                result: PreflightResult, add: Callable[..., None], noted: set[str]) -> None:
    if claims.wids is None:
        note = "the token carries no wids claim: the Entra role of the signed-in user is not checked"
        if note not in noted:
            noted.add(note)
            result.notes.append(note)
        return
    wanted = {ROLE_IDS[r] for r in (*req.roles, GLOBAL_ADMIN) if r in ROLE_IDS}
    if wanted & set(claims.wids):
        return
    if set(req.roles) <= set(permissions.APP_ADMIN) | {GLOBAL_ADMIN} and owns.get(need.owner_of or "") is True:
        return  # an owner of the app may manage it without a role (the synchronization pages' "Important" note)
    role = "Cloud Application Administrator" if "Cloud Application Administrator" in req.roles else req.roles[0]
    others = [r for r in req.roles if r != role] + ["ownership of the app"]
    add(role, "directory-role", need, others)


# -- how to grant -----------------------------------------------------------------------------------------------

def _graph_host(graph_url: str) -> str:
    m = re.match(r"^(https?://[^/]+)", graph_url)
    return m.group(1) if m else "https://graph.microsoft.com"


def grant_for(permission: str, kind: Kind, claims: Claims, *, graph_url: str = "https://graph.microsoft.com/v1.0",
              auth: str | None = None) -> Grant:
    """Pure: the az commands (and the portal path) that grant a missing permission to this token's identity."""
    host = _graph_host(graph_url)
    app_id = claims.app_id or "<client appId>"
    oid = claims.object_id or "<object id>"
    if kind == "application" and (claims.managed_identity or auth == "managed-identity"):
        role = APP_ROLE_IDS.get(permission, f"<app role id of {permission}>")
        return Grant(az=[f"GRAPH_SP=$(az ad sp show --id {GRAPH_APP_ID} --query id -o tsv)",
                         f"az rest --method POST --uri {host}/v1.0/servicePrincipals/{oid}/appRoleAssignments "
                         f"--body \"{{\\\"principalId\\\": \\\"{oid}\\\", \\\"resourceId\\\": \\\"$GRAPH_SP\\\", "
                         f"\\\"appRoleId\\\": \\\"{role}\\\"}}\""],
                     portal="none for a managed identity: its Graph permissions are granted with the az rest call "
                            "(or New-MgServicePrincipalAppRoleAssignment)")
    if kind == "application":
        role = APP_ROLE_IDS.get(permission, f"<app role id of {permission}>")
        return Grant(az=[f"az ad app permission add --id {app_id} --api {GRAPH_APP_ID} --api-permissions {role}=Role",
                         f"az ad app permission admin-consent --id {app_id}"],
                     portal=f"Entra admin center > App registrations > {claims.app_name or app_id} > API permissions "
                            f"> Add a permission > Microsoft Graph > Application permissions > {permission}, then "
                            "Grant admin consent")
    if kind == "delegated":
        cmds = [f"az ad app permission grant --id {app_id} --api {GRAPH_APP_ID} --scope {permission}",
                "sign in again (az login) so the new token carries it"]
        if claims.app_id == AZURE_CLI_APP_ID:
            portal = "none for the Azure CLI's own app: the az command grants it in this tenant (an admin runs it)"
        else:
            scope = SCOPE_IDS.get(permission, f"<scope id of {permission}>")
            cmds.insert(0, f"az ad app permission add --id {app_id} --api {GRAPH_APP_ID} "
                           f"--api-permissions {scope}=Scope")
            portal = (f"Entra admin center > App registrations > {claims.app_name or app_id} > API permissions > "
                      f"Add a permission > Microsoft Graph > Delegated permissions > {permission}, then Grant admin "
                      "consent")
        return Grant(az=cmds, portal=portal)
    if kind == "directory-role":
        role = ROLE_IDS.get(permission, f"<role template id of {permission}>")
        return Grant(az=[f"az rest --method POST --uri {host}/v1.0/roleManagement/directory/roleAssignments "
                         f"--body '{{\"principalId\": \"{oid}\", \"roleDefinitionId\": \"{role}\", "
                         "\"directoryScopeId\": \"/\"}'",
                         "sign in again (az login) so the new token carries it"],
                     portal=f"Entra admin center > Roles & admins > {permission} > Add assignments (a role made "
                            "eligible in PIM must be activated first)")
    what = "servicePrincipals/<the app's servicePrincipal id>" if "servicePrincipal" in permission else \
        "applications/<the app's object id>"
    return Grant(az=[f"az rest --method POST --uri {host}/v1.0/{what}/owners/$ref --body "
                     f"'{{\"@odata.id\": \"{host}/v1.0/directoryObjects/{oid}\"}}'"],
                 portal="Entra admin center > Enterprise apps (or App registrations) > the app > Owners > Add")


# -- reading the token and ownership -------------------------------------------------------------------------------

async def current_token(graph: Any) -> str | None:
    """The access token the run's Graph client signs with, asked of its credential for the same scope the SDK asks
    for (https://<graph host>/.default), so a credential's cache answers. None when there is none to ask."""
    import asyncio
    import inspect
    from urllib.parse import urlsplit

    credential = getattr(graph, "credential", None)
    if credential is None:
        return None
    parts = urlsplit(getattr(graph, "base_url", "") or "https://graph.microsoft.com")
    scope = f"{parts.scheme}://{parts.netloc}/.default"
    try:
        got = await asyncio.to_thread(credential.get_token, scope)  # az and MSAL credentials block
        if inspect.isawaitable(got):
            got = await got
    except Exception:  # noqa: BLE001 - advice only: the run goes on and its requests say what is wrong
        return None
    token = getattr(got, "token", None)
    return token if isinstance(token, str) else None


async def read_ownership(graph: Any, app: Any, claims: Claims) -> dict[str, bool | None]:
    """Does the caller own the app's application and service principal? (GET .../owners; None when it cannot be
    read or the token names no caller.)"""
    from .errors import NatomaEntraError
    from .graph.odata import seg

    out: dict[str, bool | None] = {"application": None, "servicePrincipal": None}
    if not claims.object_id:
        return out
    application = getattr(app, "application", None) or {}
    for kind, object_id in (("application", application.get("id")), ("servicePrincipal", getattr(app, "sp_id", None))):
        if not object_id:
            continue
        try:
            owners = await graph.list(f"/{kind}s/{seg(object_id)}/owners", {"$select": "id"})
        except NatomaEntraError:
            continue
        out[kind] = any(o.get("id") == claims.object_id for o in owners if isinstance(o, dict))
    return out


def _relies_on_ownership(claims: Claims, needs: list[Need]) -> bool:
    """Is ownership worth reading: an app-only token that has OwnedBy where it lacks the plain permission, or a user
    without an app-managing role in wids?"""
    held = _implied(claims.held)
    if claims.sign_in == "delegated":
        managing = {ROLE_IDS[r] for r in (*permissions.APP_ADMIN, GLOBAL_ADMIN)}
        return (claims.wids is not None and not managing & set(claims.wids)
                and any(permissions.BY_KEY[n.request].roles for n in needs))
    return OWNED_BY in held and any(
        not any(all(x in held for x in o) for o in _options(permissions.BY_KEY[n.request], "application")
                if OWNED_BY not in o) for n in needs)


class TokenView(BaseModel):
    """The run's token as the preflight sees it: its claims (None: unreadable, `why`) and what the caller owns."""

    claims: Claims | None = None
    why: str = ""
    owns: dict[str, bool | None] = Field(default_factory=dict)
    graph_url: str = "https://graph.microsoft.com/v1.0"
    auth: str | None = None

    def judge(self, needs: list[Need]) -> PreflightResult:
        """Pure: the preflight's verdict on needs."""
        if self.claims is None:
            return PreflightResult(checked=False, note=f"the access token's claims cannot be read ({self.why}): the "
                                                       "permissions were not checked before writing")
        return evaluate(self.claims, needs, owns=self.owns, graph_url=self.graph_url, auth=self.auth)


async def read_token(session: Any, needs: list[Need]) -> TokenView:
    """Read the token's claims, and ownership when one of the needs relies on it. Never raises."""
    from .token_claims import read

    graph = session.graph
    claims, why = read(await current_token(graph))
    view = TokenView(claims=claims, why=why, graph_url=getattr(graph, "base_url", "") or "",
                     auth=getattr(graph, "auth", None))
    if claims is not None and _relies_on_ownership(claims, needs):
        view.owns = await read_ownership(graph, await session.app(), claims)
    return view


async def check(session: Any, needs: list[Need]) -> PreflightResult:
    """Read the token (and ownership, when a need relies on it) and judge the needs."""
    return (await read_token(session, needs)).judge(needs)


async def before_writes(session: Any, plans: Iterable[Any], *, command: str | None = None,
                        also: Iterable[str] = ()) -> PreflightResult:
    """The runner's hook, after planning and before the first apply: the planned operations of `plans` (objects
    with `.step` and `.operations`, each with `.method` and `.path`) plus the permissions.py request keys `also`
    (for steps planned only once an app exists). Raises PermissionsMissing (exit 2) when something is missing,
    unless NATOMA_ENTRA_PREFLIGHT=warn; says notes through session.progress."""
    ops = [(getattr(p, "step", ""), op.method, op.path) for p in plans for op in getattr(p, "operations", [])]
    needs, _unknown = needs_of(ops)
    for key in dict.fromkeys(also):
        r = permissions.BY_KEY[key]
        needs.append(Need(request=key, operation=f"{r.method.split('|')[0]} {permissions.show_path(r.path)}",
                          owner_of=_owner_of(key, permissions.show_path(r.path))))
    if not needs:
        return PreflightResult(checked=False, note="nothing to write")
    result = await check(session, needs)
    say = getattr(session, "progress", lambda msg: None)
    if result.note:
        say(f"note: {result.note}")
    for note in result.notes:
        say(f"note: {note}")
    if result.missing:
        if os.environ.get(PREFLIGHT_ENV, "").strip().lower() == "warn":
            for m in result.missing:
                say(f"warning ({PREFLIGHT_ENV}=warn): {m.line()}")
            return result
        raise PermissionsMissing(result, command)
    return result
