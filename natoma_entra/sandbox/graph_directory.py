"""Directory endpoints: applications, templates, service principals, users, groups, app role assignments, logs."""

from __future__ import annotations

import re
import uuid
from typing import Any

from natoma_entra.sandbox import options as V
from natoma_entra.sandbox.graph import (
    ROUTER,
    GraphHandler,
    Request,
    Response,
    bad_request,
    entity,
    filtered,
    not_found,
    page,
)
from natoma_entra.sandbox.state import DEFAULT_ACCESS_ROLE_ID, assignment_id
from natoma_entra.sandbox.strict import check_log_query
from natoma_entra.json_copy import copy_json

R_APP = "Application.Read.All"
W_APP = "Application.ReadWrite.All"
W_ASSIGN = "AppRoleAssignment.ReadWrite.All"
R_GROUP = "Group.Read.All"
C_GROUP = "Group.Create"  # group-post-groups.md: the least privileged application permission
W_GROUP = "Group.ReadWrite.All"  # group-delete.md
R_MEMBER = "GroupMember.Read.All"
R_USER = "User.Read.All"
R_AUDIT = "AuditLog.Read.All"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# approle.md: "Allowed characters are : ! # $ % & ' ( ) * + , - . / : ; < = > ? @ [ ] ^ + _ ` { | } ~, as well as
# characters in the ranges 0-9, A-Z and a-z. Any other character, including the space character, aren't allowed.
# May not begin with ."
_ROLE_VALUE = re.compile(r"^[A-Za-z0-9:!#$%&'()*+,\-./;<=>?@\[\]^_`{|}~]+$")


def _get(handler: GraphHandler, kind: str, object_id: str) -> dict[str, Any]:
    coll = handler.tenant.state[kind]
    if object_id in coll:
        return coll[object_id]
    for k, v in coll.items():
        if k.lower() == object_id.lower():
            return v
    raise not_found(object_id)


def _typed(obj: dict[str, Any], odata_type: str) -> dict[str, Any]:
    return {"@odata.type": odata_type, **obj}


# applications ---------------------------------------------------------------------------------------------------------

def _app_replicating(h: GraphHandler, app: dict[str, Any]) -> bool:
    """An application made by instantiate replicates with the service principal made with it (one window)."""
    sp = h.tenant.sp_for_app(app)
    return sp is not None and h.tenant.replicating("servicePrincipal", sp["id"])


def _lagging(h: GraphHandler, app: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`role-disable-lag`: the roles of this application a recent PATCH disabled that still read (and count as)
    enabled, by lower-case id, as they were before; empty once the lag is over."""
    until, roles = h.role_lag.get(app["id"], (0.0, {}))
    if h.tenant.clock() >= until:
        h.role_lag.pop(app["id"], None)
        return {}
    return roles


def _as_read(h: GraphHandler, app: dict[str, Any]) -> dict[str, Any]:
    """The application as a read shows it: during `role-disable-lag`, a role just disabled still enabled."""
    lagging = _lagging(h, app)
    if not lagging:
        return app
    return {**app, "appRoles": [lagging.get(r["id"].lower(), r) for r in app.get("appRoles") or []]}


@ROUTER.add("GET", "/applications", R_APP)
def list_applications(h: GraphHandler, req: Request) -> Response:
    items = [_as_read(h, a) for a in h.tenant.state["applications"].values() if not _app_replicating(h, a)]
    return page(h, filtered(items, req), req, "applications")


@ROUTER.add("GET", "/applications/{id}", R_APP)
def get_application(h: GraphHandler, req: Request) -> Response:
    app = _get(h, "applications", req.params["id"])
    if _app_replicating(h, app):  # public scripts poll this after instantiate
        raise not_found(req.params["id"])
    return entity(_as_read(h, app), req, "applications/$entity")


def _owners(h: GraphHandler, object_id: str) -> list[dict[str, Any]]:
    """The owners of an application or service principal (GDOCS application-list-owners.md,
    serviceprincipal-list-owners.md: directoryObjects). Kept in state["owners"] (object id -> owner ids), empty by
    default: the preflight reads them when a token relies on Application.ReadWrite.OwnedBy."""
    users = h.tenant.state["users"]
    return [{"@odata.type": "#microsoft.graph.user" if i in users else "#microsoft.graph.servicePrincipal", "id": i}
            for i in (h.tenant.state.get("owners") or {}).get(object_id, [])]


@ROUTER.add("GET", "/applications/{id}/owners", R_APP)
def list_application_owners(h: GraphHandler, req: Request) -> Response:
    app = _get(h, "applications", req.params["id"])
    return page(h, _owners(h, app["id"]), req, "directoryObjects")


@ROUTER.add("GET", "/servicePrincipals/{id}/owners", R_APP)
def list_sp_owners(h: GraphHandler, req: Request) -> Response:
    sp = _get(h, "servicePrincipals", req.params["id"])
    return page(h, _owners(h, sp["id"]), req, "directoryObjects")


@ROUTER.add("DELETE", "/applications/{id}", W_APP)
def delete_application(h: GraphHandler, req: Request) -> Response:
    """Graph docs application-delete.md: 204; the app goes to deleted items (restorable for 30 days). Its service
    principal is deleted by its own request (serviceprincipal-delete.md), which the CLI sends first."""
    app = _get(h, "applications", req.params["id"])
    del h.tenant.state["applications"][app["id"]]
    return Response(204)


_APP_READ_ONLY = {"id", "appId", "createdDateTime", "publisherDomain", "deletedDateTime"}


@ROUTER.add("PATCH", "/applications/{id}", W_APP)
def patch_application(h: GraphHandler, req: Request) -> Response:
    """PATCH /applications/{id}, Graph docs application-update.md: 204; a collection property such as appRoles is
    replaced as a whole."""
    app = _get(h, "applications", req.params["id"])
    body = req.json()
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    for key in body:
        if key in _APP_READ_ONLY:
            raise bad_request(f"Property '{key}' is read-only and cannot be set.")
    if "tags" in body and (not isinstance(body["tags"], list) or not all(isinstance(t, str) for t in body["tags"])):
        # application.md: tags is a String collection, not nullable
        raise bad_request("Invalid value specified for property 'tags' of resource 'Application'.")
    if "appRoles" in body:
        # during `role-disable-lag` a role just disabled still counts as enabled: changing it is refused
        new_roles = _validate_app_roles(_as_read(h, app).get("appRoles") or [], body["appRoles"])
        _start_disable_lag(h, app, new_roles)
    for key, value in body.items():
        if key == "appRoles" or key.startswith("@odata."):
            continue
        app[key] = copy_json(value)
    if "appRoles" in body:
        app["appRoles"] = [dict(r, origin="Application") for r in new_roles]
        sp = h.tenant.sp_for_app(app)
        if sp is not None:
            h.tenant.queue_sp_roles(sp["id"], app["appRoles"])
    return Response(204)


def _start_disable_lag(h: GraphHandler, app: dict[str, Any], new_roles: list[dict[str, Any]]) -> None:
    """`role-disable-lag`: the enabled roles this PATCH disables go on reading enabled for ROLE_DISABLE_LAG_SECONDS
    (another replica has not applied the disable yet)."""
    if V.ROLE_DISABLE_LAG not in h.tenant.variants:
        return
    disabled = {r["id"].lower() for r in new_roles if not r.get("isEnabled")}
    before = {r["id"].lower(): copy_json(r) for r in app.get("appRoles") or []
              if r.get("isEnabled") and r["id"].lower() in disabled}
    if before:
        h.role_lag[app["id"]] = (h.tenant.clock() + V.ROLE_DISABLE_LAG_SECONDS, before)


def _validate_app_roles(old: list[dict[str, Any]], new: Any) -> list[dict[str, Any]]:
    if not isinstance(new, list):
        raise bad_request("Invalid value for property 'appRoles': a collection is expected.")
    seen_ids: set[str] = set()
    seen_values: set[str] = set()
    roles: list[dict[str, Any]] = []
    for role in new:
        if not isinstance(role, dict):
            raise bad_request("Invalid value for property 'appRoles'.")
        if "origin" in role:
            # approle.md: origin is read-only ("Not nullable. Read-only.").
            raise bad_request("Property 'origin' is read-only and cannot be set.")
        rid = role.get("id")
        if not isinstance(rid, str) or not _GUID.match(rid):
            raise bad_request("Invalid value specified for property 'id' of resource 'AppRole'.")
        if rid.lower() in seen_ids:
            # Wording OBSERVED (Azure-Samples/azure-health-data-and-ai-samples#197).
            raise bad_request("Duplicate 'id' values are present in the 'appRoles' values.")
        seen_ids.add(rid.lower())
        members = role.get("allowedMemberTypes")
        if not isinstance(members, list) or not members or any(m not in ("User", "Application") for m in members):
            raise bad_request("Invalid value specified for property 'allowedMemberTypes' of resource 'AppRole'.")
        if not isinstance(role.get("isEnabled"), bool):
            raise bad_request("Property 'isEnabled' of resource 'AppRole' is required and must be a boolean.")
        value = role.get("value")
        if value is not None:
            # Error text for invalid values is UNCONFIRMED; the rule is approle.md's.
            if not isinstance(value, str) or len(value) > 120 or not _ROLE_VALUE.match(value) or value.startswith("."):
                raise bad_request("Invalid value specified for property 'value' of resource 'AppRole': at most 120 "
                                  "characters, no spaces, not starting with '.'.")
            if value in seen_values:
                # UNCONFIRMED wording: approle.md documents no error for a duplicate value.
                raise bad_request("Duplicate 'value' values are present in the 'appRoles' values.")
            seen_values.add(value)
        roles.append(copy_json(role))
    by_id = {r["id"].lower(): r for r in roles}
    for before in old:
        after = by_id.get(before["id"].lower())
        if not before.get("isEnabled"):
            continue  # a disabled role may be changed or removed (approle.md "To delete a role, ...")
        if after is None or _role_changed(before, after):
            # approle.md: "To delete a role, this must first be set to false. At that point, in a subsequent call,
            # this role may be removed."; code/message OBSERVED (go-azure-sdk sdk/odata/errors.go).
            raise bad_request("Permission (scope or role) cannot be deleted or updated unless disabled first",
                              "CannotDeleteOrUpdateEnabledEntitlement")
    return roles


_ROLE_FIELDS = ("allowedMemberTypes", "description", "displayName", "value")


def _role_changed(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """True when an enabled role is changed other than by isEnabled true -> false alone."""
    if any(before.get(k) != after.get(k) for k in _ROLE_FIELDS):
        return True
    return False  # isEnabled true -> true (unchanged) or true -> false (disabling) are both fine


# application templates -----------------------------------------------------------------------------------------------

@ROUTER.add("GET", "/applicationTemplates", R_APP)
def list_templates(h: GraphHandler, req: Request) -> Response:
    return page(h, filtered(list(h.tenant.state["applicationTemplates"].values()), req), req, "applicationTemplates")


@ROUTER.add("GET", "/applicationTemplates/{id}", R_APP)
def get_template(h: GraphHandler, req: Request) -> Response:
    return entity(_get(h, "applicationTemplates", req.params["id"]), req, "applicationTemplates/$entity")


@ROUTER.add("POST", "/applicationTemplates/{id}/instantiate", W_APP)
def instantiate(h: GraphHandler, req: Request) -> Response:
    """Graph docs applicationtemplate-instantiate.md: 201 {application, servicePrincipal}."""
    tpl = _get(h, "applicationTemplates", req.params["id"])
    body = req.json()
    name = body.get("displayName") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise bad_request("Property 'displayName' is required.")
    app, sp = h.tenant.instantiate(tpl["id"], name)
    h.tenant.created("servicePrincipal", sp["id"])
    return Response(201, {
        "@odata.context": f"{req.base}/$metadata#microsoft.graph.applicationServicePrincipal",
        "application": copy_json(app),
        "servicePrincipal": copy_json(sp),
    })


# service principals -----------------------------------------------------------------------------------------------------

@ROUTER.add("GET", "/servicePrincipals", R_APP)
def list_sps(h: GraphHandler, req: Request) -> Response:
    items = [sp for sp in h.tenant.state["servicePrincipals"].values()
             if not h.tenant.replicating("servicePrincipal", sp["id"])]
    items = filtered(items, req)
    for sp in items:
        h.tenant.sp_read(sp["id"])
    return page(h, items, req, "servicePrincipals")


@ROUTER.add("GET", "/servicePrincipals/{id}", R_APP)
def get_sp(h: GraphHandler, req: Request) -> Response:
    sp = _get(h, "servicePrincipals", req.params["id"])
    if h.tenant.replicating("servicePrincipal", sp["id"]):
        raise not_found(req.params["id"])
    h.tenant.sp_read(sp["id"])
    return entity(sp, req, "servicePrincipals/$entity")


@ROUTER.add("DELETE", "/servicePrincipals/{id}", W_APP)
def delete_sp(h: GraphHandler, req: Request) -> Response:
    """Graph docs serviceprincipal-delete.md: 204. What hangs on it goes with it: the assignments to it, its jobs, their
    schemas and its saved credentials."""
    st = h.tenant.state
    sp = _get(h, "servicePrincipals", req.params["id"])
    del st["servicePrincipals"][sp["id"]]
    for aid in [k for k, a in st["appRoleAssignments"].items() if sp["id"] in (a["resourceId"], a["principalId"])]:
        del st["appRoleAssignments"][aid]
    for job_id in (st["jobs"].pop(sp["id"], None) or {}):
        st["schemas"].pop(job_id, None)
    st["secrets"].pop(sp["id"], None)
    st["spRolesPending"].pop(sp["id"], None)
    return Response(204)


# app role assignments -----------------------------------------------------------------------------------------------

def _principal(h: GraphHandler, principal_id: str) -> tuple[str, dict[str, Any]]:
    st = h.tenant.state
    for kind, ptype in (("users", "User"), ("groups", "Group"), ("servicePrincipals", "ServicePrincipal")):
        for k, obj in st[kind].items():
            if k.lower() == principal_id.lower():
                if ptype == "Group" and h.tenant.replicating("group", obj["id"]):
                    break  # a group created moments ago is not found yet
                return ptype, obj
    raise not_found(principal_id)


@ROUTER.add("GET", "/servicePrincipals/{id}/appRoleAssignedTo", R_APP)
def list_assigned_to(h: GraphHandler, req: Request) -> Response:
    sp = _get(h, "servicePrincipals", req.params["id"])
    # a new assignment is not listed until it has replicated (serviceprincipal-list-approleassignedto.md: replication delays)
    items = [a for a in h.tenant.state["appRoleAssignments"].values()
             if a["resourceId"] == sp["id"] and not h.tenant.replicating("assignment", a["id"])]
    return page(h, filtered(items, req), req, f"servicePrincipals('{sp['id']}')/appRoleAssignedTo")


@ROUTER.add("GET", "/servicePrincipals/{id}/appRoleAssignedTo/{aid}", R_APP)
def get_assigned_to(h: GraphHandler, req: Request) -> Response:
    sp = _get(h, "servicePrincipals", req.params["id"])
    a = h.tenant.state["appRoleAssignments"].get(req.params["aid"])
    if a is None or a["resourceId"] != sp["id"] or h.tenant.replicating("assignment", a["id"]):
        raise not_found(req.params["aid"])
    return entity(a, req, f"servicePrincipals('{sp['id']}')/appRoleAssignedTo/$entity")


@ROUTER.add("POST", "/servicePrincipals/{id}/appRoleAssignedTo", W_ASSIGN)
def post_assigned_to(h: GraphHandler, req: Request) -> Response:
    """Graph docs serviceprincipal-post-approleassignedto.md (201); errors as public code observes them (docs/graph-assumptions.md)."""
    sp = _get(h, "servicePrincipals", req.params["id"])
    body = req.json()
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    for key in ("principalId", "resourceId", "appRoleId"):
        if not isinstance(body.get(key), str) or not _GUID.match(body[key]):
            raise bad_request(f"Invalid value specified for property '{key}' of resource 'AppRoleAssignment'.")
    if body["resourceId"].lower() != sp["id"].lower():
        raise bad_request("The resourceId in the body must be the service principal addressed by the URL.")
    ptype, principal = _principal(h, body["principalId"])
    if ptype == "Group" and not principal.get("securityEnabled"):
        # Entra docs assign-user-or-group-access / groups-saasapps: only security groups are supported for group-based
        # assignment. The real API's refusal text is UNCONFIRMED.
        raise bad_request(f"Group '{principal['displayName']}' ({principal['id']}) is not a security group "
                          "(securityEnabled is false); only security groups can be assigned to an application.")
    role_id = body["appRoleId"].lower()
    roles = sp.get("appRoles") or []
    if role_id == DEFAULT_ACCESS_ROLE_ID:
        # approleassignment.md: the default id works only when the resource app declares no app roles.
        if roles:
            raise bad_request("Permission being assigned was not found on application.")
        role = None
    else:
        role = next((r for r in roles if r["id"].lower() == role_id and r.get("isEnabled")), None)
        if role is None:
            # OBSERVED wording (docs/graph-assumptions.md): also what a role not yet copied to the SP answers.
            raise bad_request("Permission being assigned was not found on application.")
        wanted = "Application" if ptype == "ServicePrincipal" else "User"
        if wanted not in role.get("allowedMemberTypes", []):
            raise bad_request(f"The app role's allowedMemberTypes do not include '{wanted}'; it cannot be assigned "
                              f"to a {ptype.lower()}.")
    st = h.tenant.state["appRoleAssignments"]
    for a in st.values():
        if (a["principalId"].lower(), a["resourceId"].lower(), a["appRoleId"].lower()) == (
                principal["id"].lower(), sp["id"].lower(), role_id):
            raise bad_request("Permission being assigned already exists on the object.")
    aid = assignment_id(principal["id"], sp["id"], role_id)
    assignment = {
        "id": aid,
        "deletedDateTime": None,
        "appRoleId": role["id"] if role else DEFAULT_ACCESS_ROLE_ID,
        "createdDateTime": h.tenant.timestamp(),
        "principalDisplayName": principal.get("displayName"),
        "principalId": principal["id"],
        "principalType": ptype,
        "resourceDisplayName": sp.get("displayName"),
        "resourceId": sp["id"],
    }
    st[aid] = assignment
    h.tenant.created("assignment", aid)
    return Response(201, {"@odata.context": f"{req.base}/$metadata#servicePrincipals('{sp['id']}')/appRoleAssignedTo"
                                            "/$entity", **copy_json(assignment)})


@ROUTER.add("DELETE", "/servicePrincipals/{id}/appRoleAssignedTo/{aid}", W_ASSIGN)
def delete_assigned_to(h: GraphHandler, req: Request) -> Response:
    sp = _get(h, "servicePrincipals", req.params["id"])
    st = h.tenant.state["appRoleAssignments"]
    a = st.get(req.params["aid"])
    if a is None or a["resourceId"] != sp["id"]:
        raise not_found(req.params["aid"])
    del st[req.params["aid"]]
    return Response(204)


@ROUTER.add("GET", "/users/{id}/appRoleAssignments", R_USER)
def user_assignments(h: GraphHandler, req: Request) -> Response:
    user = _user(h, req.params["id"])
    items = [a for a in h.tenant.state["appRoleAssignments"].values() if a["principalId"] == user["id"]]
    return page(h, filtered(items, req), req, f"users('{user['id']}')/appRoleAssignments")


@ROUTER.add("GET", "/groups/{id}/appRoleAssignments", R_GROUP)
def group_assignments(h: GraphHandler, req: Request) -> Response:
    group = _get(h, "groups", req.params["id"])
    items = [a for a in h.tenant.state["appRoleAssignments"].values() if a["principalId"] == group["id"]]
    return page(h, filtered(items, req), req, f"groups('{group['id']}')/appRoleAssignments")


# users and groups ---------------------------------------------------------------------------------------------------

def _user(h: GraphHandler, key: str) -> dict[str, Any]:
    users = h.tenant.state["users"]
    if key in users:
        return users[key]
    for u in users.values():
        if u["id"].lower() == key.lower() or u["userPrincipalName"].lower() == key.lower():
            return u
    raise not_found(key)


def _directory_object(h: GraphHandler, object_id: str) -> dict[str, Any] | None:
    st = h.tenant.state
    if object_id in st["users"]:
        return _typed(st["users"][object_id], "#microsoft.graph.user")
    if object_id in st["groups"]:
        return _typed(st["groups"][object_id], "#microsoft.graph.group")
    if object_id in st["servicePrincipals"]:
        return _typed(st["servicePrincipals"][object_id], "#microsoft.graph.servicePrincipal")
    return None


@ROUTER.add("GET", "/users", R_USER)
def list_users(h: GraphHandler, req: Request) -> Response:
    return page(h, filtered(list(h.tenant.state["users"].values()), req), req, "users")


@ROUTER.add("GET", "/users/{id}", R_USER)
def get_user(h: GraphHandler, req: Request) -> Response:
    return entity(_user(h, req.params["id"]), req, "users/$entity")


@ROUTER.add("GET", "/users/{id}/memberOf", R_MEMBER)
def user_member_of(h: GraphHandler, req: Request) -> Response:
    user = _user(h, req.params["id"])
    groups = [_typed(h.tenant.state["groups"][g], "#microsoft.graph.group") for g in h.tenant.direct_groups_of(user["id"])]
    return page(h, filtered(groups, req), req, "directoryObjects")


@ROUTER.add("GET", "/groups", R_GROUP)
def list_groups(h: GraphHandler, req: Request) -> Response:
    items = [g for g in h.tenant.state["groups"].values() if not h.tenant.replicating("group", g["id"])]
    return page(h, filtered(items, req), req, "groups")


@ROUTER.add("GET", "/groups/{id}", R_GROUP)
def get_group(h: GraphHandler, req: Request) -> Response:
    group = _get(h, "groups", req.params["id"])
    if h.tenant.replicating("group", group["id"]):
        raise not_found(req.params["id"])
    return entity(group, req, "groups/$entity")


# group.md: mailNickname "can't contain the following characters: @ () \ [] " ; : <> , SPACE", at most 64 ASCII
# characters.
_NICKNAME = re.compile(r'^[\x21-\x7e]{1,64}$')
_NICKNAME_BAD = set('@()\\[]";:<>,')


def _new_group(h: GraphHandler, body: Any, unique_name: str | None = None) -> dict[str, Any]:
    """A security or Microsoft 365 group from a create's body (group-post-groups.md, group-upsert.md): displayName,
    mailEnabled, mailNickname and securityEnabled are required. A new group is not readable everywhere at once
    (replication: sandbox knob)."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    for key in ("displayName", "mailNickname"):
        if not isinstance(body.get(key), str) or not body[key].strip():
            raise bad_request(f"Invalid value specified for property '{key}' of resource 'Group'.")
    for key in ("mailEnabled", "securityEnabled"):
        if not isinstance(body.get(key), bool):
            raise bad_request(f"Invalid value specified for property '{key}' of resource 'Group'.")
    nick = body["mailNickname"]
    if not _NICKNAME.match(nick) or set(nick) & _NICKNAME_BAD:
        raise bad_request("Invalid value specified for property 'mailNickname' of resource 'Group'.")
    group_types = body.get("groupTypes") or []
    if body["mailEnabled"] and "Unified" not in group_types:
        # group-post-groups.md: mail-enabled security groups cannot be created through this API
        raise bad_request("The service does not currently support writes of mail-enabled groups. Please ensure "
                          "that the mail-enablement property is unset or is set to false.")
    gid = str(uuid.uuid4())
    group = {
        "id": gid,
        "displayName": body["displayName"],
        "description": body.get("description"),
        "securityEnabled": body["securityEnabled"],
        "mailEnabled": body["mailEnabled"],
        "mailNickname": nick,
        "mail": None,
        "groupTypes": list(group_types),
        "createdDateTime": h.tenant.timestamp(),
    }
    if unique_name is not None:
        group["uniqueName"] = unique_name
    h.tenant.state["groups"][gid] = group
    h.tenant.state["members"][gid] = []
    h.tenant.created("group", gid)
    return group


@ROUTER.add("POST", "/groups", C_GROUP)
def post_group(h: GraphHandler, req: Request) -> Response:
    """Graph docs group-post-groups.md: 201 with the group."""
    group = _new_group(h, req.json())
    return Response(201, {"@odata.context": f"{req.base}/$metadata#groups/$entity", **copy_json(group)})


def _unique_key(raw: str) -> str:
    """The uniqueName an alternate-key segment names: groups(uniqueName='...'), quotes doubled inside (OData)."""
    if len(raw) < 2 or not (raw.startswith("'") and raw.endswith("'")):
        raise bad_request("The uniqueName key must be a quoted string: groups(uniqueName='...').")
    return raw[1:-1].replace("''", "'")


def _by_unique_name(h: GraphHandler, name: str) -> dict[str, Any] | None:
    """The group holding this uniqueName, replicating or not (an alternate key is unique in the tenant: group.md)."""
    for g in h.tenant.state["groups"].values():
        if (g.get("uniqueName") or "").lower() == name.lower():
            return g
    return None


@ROUTER.add("GET", "/groups(uniqueName={key})", R_GROUP)
def get_group_by_unique_name(h: GraphHandler, req: Request) -> Response:
    """GET /groups(uniqueName='...') (the v1.0 Get-MgGroupByUniqueName): the group, or 404 (also while a new group
    replicates)."""
    key = _unique_key(req.params["key"])
    group = _by_unique_name(h, key)
    if group is None or h.tenant.replicating("group", group["id"]):
        raise not_found(key)
    return entity(group, req, "groups/$entity")


_UPSERT_WRITABLE = ("displayName", "description", "mailNickname")


@ROUTER.add("PATCH", "/groups(uniqueName={key})", W_GROUP)
def upsert_group(h: GraphHandler, req: Request) -> Response:
    """Graph docs group-upsert.md: with `Prefer: create-if-missing`, 201 and the new group when no group holds the
    uniqueName, else the group is updated and 204; without the header, an update (404 when missing).
    `group-upsert-conflict`: a uniqueName a group already holds answers 400 instead of the update (UNCONFIRMED
    wording: the one Entra gives for a duplicate unique property)."""
    key = _unique_key(req.params["key"])
    body = req.json()
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    existing = _by_unique_name(h, key)
    create = "create-if-missing" in (req.headers.get("prefer") or "").lower()
    if existing is None:
        if not create:
            raise not_found(key)
        group = _new_group(h, body, unique_name=key)
        return Response(201, {"@odata.context": f"{req.base}/$metadata#groups/$entity", **copy_json(group)})
    if V.GROUP_UPSERT_CONFLICT in h.tenant.variants:
        raise bad_request("Another object with the same value for property uniqueName already exists.",
                          "Request_MultipleObjectsWithSameKeyValue")
    for k in _UPSERT_WRITABLE:
        if isinstance(body.get(k), str):
            existing[k] = body[k]
    return Response(204)


@ROUTER.add("DELETE", "/groups/{id}", W_GROUP)
def delete_group(h: GraphHandler, req: Request) -> Response:
    """Graph docs group-delete.md: 204. Security groups are deleted permanently (Microsoft 365 groups go to deleted
    items); its app role assignments and memberships go with it."""
    st = h.tenant.state
    group = _get(h, "groups", req.params["id"])
    del st["groups"][group["id"]]
    st["members"].pop(group["id"], None)
    for members in st["members"].values():
        if group["id"] in members:
            members.remove(group["id"])
    for aid in [k for k, a in st["appRoleAssignments"].items() if a["principalId"] == group["id"]]:
        del st["appRoleAssignments"][aid]
    return Response(204)


@ROUTER.add("GET", "/groups/{id}/members", R_MEMBER)
def group_members(h: GraphHandler, req: Request) -> Response:
    group = _get(h, "groups", req.params["id"])
    objs = [o for m in h.tenant.state["members"].get(group["id"], []) if (o := _directory_object(h, m))]
    return page(h, filtered(objs, req), req, "directoryObjects")


@ROUTER.add("GET", "/groups/{id}/transitiveMembers", R_MEMBER)
def group_transitive_members(h: GraphHandler, req: Request) -> Response:
    group = _get(h, "groups", req.params["id"])
    members = h.tenant.state["members"]
    seen: list[str] = []
    todo = list(members.get(group["id"], []))
    while todo:
        m = todo.pop(0)
        if m not in seen:
            seen.append(m)
            todo.extend(members.get(m, []))
    objs = [o for m in seen if (o := _directory_object(h, m))]
    return page(h, filtered(objs, req), req, "directoryObjects")


@ROUTER.add("GET", "/groups/{id}/memberOf", R_MEMBER)
def group_member_of(h: GraphHandler, req: Request) -> Response:
    group = _get(h, "groups", req.params["id"])
    groups = [_typed(h.tenant.state["groups"][g], "#microsoft.graph.group") for g in h.tenant.direct_groups_of(group["id"])]
    return page(h, filtered(groups, req), req, "directoryObjects")


# provisioning logs ------------------------------------------------------------------------------------------------

@ROUTER.add("GET", "/auditLogs/provisioning", R_AUDIT)
def provisioning_logs(h: GraphHandler, req: Request) -> Response:
    """Graph docs provisioningobjectsummary-list.md: $filter (case-sensitive), $top, @odata.nextLink; newest first.
    Only the documented filters and $orderby pass (strict.check_log_query)."""
    check_log_query(req.query)
    items = list(reversed(h.tenant.state["provisioningLogs"]))
    if " ".join(req.query.get("$orderby", "").split()).lower() in ("activitydatetime", "activitydatetime asc"):
        items.reverse()
    return page(h, filtered(items, req, case_insensitive=False), req, "auditLogs/provisioning")
