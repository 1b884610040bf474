"""Find the app (application + service principal), groups and users by name or id.

Filters follow the forms the Graph docs show: `displayName eq '...'`, `appId eq '...'`, `startswith(displayName,'...')`
(serviceprincipal-list.md, group-list.md, user-list.md). Literals are quoted by odata.literal.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .client import GraphClient
from .errors import GraphError
from ..errors import UsageError
from .odata import eq, is_guid, literal, seg

SP_FIELDS = "id,appId,displayName,appRoles"  # what the steps and doctor use, nothing more
# tags: what natoma-entra made for this app (natoma_entra/marks.py); createdDateTime: which of two twins is older
APP_FIELDS = "id,appId,displayName,appRoles,notes,tags,createdDateTime"
# uniqueName: the key a natoma-entra upsert gave a group it made (steps/groups.py)
GROUP_FIELDS = "id,displayName,securityEnabled,mailEnabled,groupTypes,description,uniqueName"
USER_FIELDS = "id,displayName,userPrincipalName,mail"


class AppNotFound(UsageError):
    """No enterprise app matches: the one answer `setup --create-app` acts on (two matches stay an error)."""


class GroupIdNotFound(UsageError):
    """No group has that object id (deleted, or a typo): never created by --create-groups (a name is needed), and
    nothing for teardown to undo."""


class GroupNotFound(UsageError):
    """No group has that display name: the one answer `--create-groups` acts on."""

    def __init__(self, message: str, fix: str | None = None, *, ref: str = "", refs: tuple[str, ...] = ()):
        super().__init__(message, fix)
        self.ref = ref
        self.refs = refs or ((ref,) if ref else ())  # every group name missing

    @classmethod
    def of(cls, missing: "list[GroupNotFound]") -> "GroupNotFound":
        """One error for several missing groups (each one's own when it is alone: it names similar groups)."""
        if len(missing) == 1:
            return missing[0]
        names = ", ".join(repr(e.ref) for e in missing[:-1]) + f" or {missing[-1].ref!r}"
        return cls(f"no group named {names}", missing[0].fix, refs=tuple(e.ref for e in missing))


@dataclass
class App:
    """The Natoma app: its service principal (enterprise app) and, when the tenant owns one, its application."""

    service_principal: dict
    application: dict | None
    planned: bool = False  # --create-app: the app this run creates, not there yet (its ids are placeholders)
    twins: list["App"] = field(default_factory=list)  # other apps with the name, when one is natoma-entra's (twins.py)

    def warnings(self) -> list[str]:
        from ..twins import warning

        return [warning(self, self.twins)] if self.twins else []

    @property
    def sp_id(self) -> str:
        return self.service_principal["id"]

    @property
    def app_id(self) -> str:
        return self.service_principal["appId"]

    @property
    def display_name(self) -> str:
        return self.service_principal.get("displayName") or ""

    def summary(self) -> dict:
        if self.planned:
            return {"displayName": self.display_name, "appId": "(not created yet)"}
        return {"displayName": self.display_name, "appId": self.app_id, "servicePrincipalId": self.sp_id,
                "applicationId": (self.application or {}).get("id")}


async def _get_or_none(graph: GraphClient, path: str, params: dict | None = None) -> dict | None:
    try:
        return await graph.get(path, params)
    except GraphError as e:
        if e.status in (400, 404):
            return None
        raise


def _listing(items: list[dict]) -> str:
    return "; ".join(f"{i.get('displayName')!r} (appId {i.get('appId')})" for i in items)


async def find_app(graph: GraphClient, ref: str) -> App:
    """--app NAME|APPID|OBJECTID -> App. No match or several matches is a UsageError listing what was found."""
    ref = ref.strip()
    if not ref:
        raise UsageError("no app given", fix="pass --app NAME|APPID|OBJECTID or set app in the config file")
    # The application is asked for in the same round trip as the service principal (by the same name or appId);
    # a second round trip only when that guess misses (an application renamed apart from its service principal, or
    # none in this tenant).
    if is_guid(ref):
        by_app_id, by_sp_id, by_object_id, apps = await graph.gather(
            graph.list("/servicePrincipals", {"$filter": eq("appId", ref), "$select": SP_FIELDS}),
            _get_or_none(graph, f"/servicePrincipals/{seg(ref)}", {"$select": SP_FIELDS}),
            _get_or_none(graph, f"/applications/{seg(ref)}", {"$select": APP_FIELDS}),
            graph.list("/applications", {"$filter": eq("appId", ref), "$select": APP_FIELDS}),
        )
        sps = by_app_id or ([by_sp_id] if by_sp_id else [])
        if not sps and by_object_id:  # the application's object id: its SP shares the appId
            sps = await graph.list("/servicePrincipals", {"$filter": eq("appId", by_object_id["appId"]), "$select": SP_FIELDS})
            if not sps:  # AppNotFound: teardown still finds the application it made (its service principal gone)
                raise AppNotFound(
                    f"the app registration {by_object_id.get('displayName')!r} has no enterprise application (service principal)",
                    fix="create the app from Enterprise applications -> New application -> 'Create your own application' "
                        "(non-gallery), which provisioning needs")
        if not sps:
            raise AppNotFound(f"no app with appId or object id {ref} in this tenant",
                             fix="check --app (display name, appId or object id) and --tenant")
    else:
        sps, apps = await graph.gather(
            graph.list("/servicePrincipals", {"$filter": eq("displayName", ref), "$select": SP_FIELDS}),
            graph.list("/applications", {"$filter": eq("displayName", ref), "$select": APP_FIELDS}))
        if not sps:
            similar = await graph.list("/servicePrincipals", {
                "$filter": f"startswith(displayName,{literal(ref[:3])})", "$select": "id,appId,displayName"}, limit=10)
            hint = f" Apps with similar names: {_listing(similar)}." if similar else ""
            raise AppNotFound(f"no enterprise app named {ref!r} in this tenant.{hint}",
                              fix="pass --app with the exact display name, the appId or the object id, or create "
                                  "it with `natoma-entra app create NAME` (or `setup --create-app`)")
        if len(sps) > 1:
            return _one_of(sps, apps, ref)
    sp = sps[0]
    apps = [a for a in apps if a.get("appId") == sp["appId"]]
    if not apps:
        apps = await graph.list("/applications", {"$filter": eq("appId", sp["appId"]), "$select": APP_FIELDS})
    return App(service_principal=sp, application=apps[0] if apps else None)


def paired(sps: list[dict], apps: list[dict]) -> list[App]:
    """Each service principal with its application (the same appId), when it is among `apps`."""
    by_app_id = {str(a.get("appId") or "").lower(): a for a in apps}
    return [App(service_principal=sp, application=by_app_id.get(str(sp.get("appId") or "").lower())) for sp in sps]


def _one_of(sps: list[dict], apps: list[dict], ref: str) -> App:
    """Several apps have the name: the one every run uses when natoma-entra made one of them (twins.py), else the
    name is ambiguous (exit 2)."""
    from ..twins import keeper

    found = paired(sps, apps)
    used = keeper(found)
    if used is None:
        raise UsageError(f"{len(sps)} enterprise apps are named {ref!r}: {_listing(sps)}",
                         fix="pass --app with the appId of the one to configure")
    used.twins = [a for a in found if a is not used]
    return used


async def find_group(graph: GraphClient, ref: str) -> dict:
    """A group by object id or exact display name; unknown or ambiguous names list the candidates."""
    if is_guid(ref):
        group = await _get_or_none(graph, f"/groups/{seg(ref)}", {"$select": GROUP_FIELDS})
        if group is None:
            raise GroupIdNotFound(f"no group with object id {ref}", fix="check the group id in [groups] or --group")
        return group
    groups = await graph.list("/groups", {"$filter": eq("displayName", ref), "$select": GROUP_FIELDS})
    if len(groups) == 1:
        return groups[0]
    if not groups:
        similar = await graph.list("/groups", {
            "$filter": f"startswith(displayName,{literal(ref.split()[0] if ref.split() else ref)})",
            "$select": "id,displayName"}, limit=10)
        hint = ("; groups with similar names: " + ", ".join(repr(g["displayName"]) for g in similar)) if similar else ""
        raise GroupNotFound(f"no group named {ref!r}{hint}",
                            fix="use the group's exact display name or its object id, or pass --create-groups", ref=ref)
    listing = ", ".join(f"{g['displayName']!r} ({g['id']})" for g in groups)
    raise UsageError(f"{len(groups)} groups are named {ref!r}: {listing}", fix="use the object id of the one you mean")


async def find_user(graph: GraphClient, ref: str) -> dict:
    """A user by object id or userPrincipalName, else by exact display name."""
    if is_guid(ref) or "@" in ref:
        user = await _get_or_none(graph, f"/users/{seg(ref)}", {"$select": USER_FIELDS})
        if user:
            return user
        raise UsageError(f"no user {ref!r}", fix="give the user's userPrincipalName, object id or display name")
    users = await graph.list("/users", {"$filter": eq("displayName", ref), "$select": USER_FIELDS})
    if len(users) == 1:
        return users[0]
    if not users:
        raise UsageError(f"no user named {ref!r}", fix="give the user's userPrincipalName, object id or display name")
    listing = ", ".join(u.get("userPrincipalName") or u["id"] for u in users)
    raise UsageError(f"{len(users)} users are named {ref!r}: {listing}", fix="give the userPrincipalName instead")


def planned_app(name: str) -> App:
    """The app `--create-app` is about to create, as the steps plan against it before it exists: no roles yet, no
    job, no assignments (applicationtemplate-instantiate.md: a new app and its service principal)."""
    new = "{new}"
    return App(service_principal={"id": new, "appId": new, "displayName": name, "appRoles": []},
               application={"id": new, "appId": new, "displayName": name, "appRoles": []}, planned=True)
