"""appRoleAssignedTo: create, list, delete, and Graph's refusals."""

from natoma_entra.sandbox.state import DEFAULT_ACCESS_ROLE_ID, MSIAM_ACCESS_ROLE_ID


def assign(graph, ids, principal, role):
    return graph.post(f"/servicePrincipals/{ids.sp}/appRoleAssignedTo",
                      json={"principalId": principal, "resourceId": ids.sp, "appRoleId": role})


def test_assign_group(graph, with_roles, tenant, helpers):
    ids = with_roles
    r = assign(graph, ids, ids.admins, helpers.ADMIN)
    assert r.status_code == 201
    a = r.json()
    assert a["principalType"] == "Group" and a["principalDisplayName"] == "Natoma Admins"
    assert a["resourceDisplayName"] == "Natoma" and a["resourceId"] == ids.sp and a["appRoleId"] == helpers.ADMIN
    assert tenant.state["appRoleAssignments"][a["id"]]["principalId"] == ids.admins
    listed = graph.get(f"/servicePrincipals/{ids.sp}/appRoleAssignedTo").json()["value"]
    assert [x["id"] for x in listed] == [a["id"]]
    assert [x["id"] for x in graph.get(f"/groups/{ids.admins}/appRoleAssignments").json()["value"]] == [a["id"]]


def test_assign_user_directly(graph, with_roles, helpers):
    ids = with_roles
    r = assign(graph, ids, ids.diego, helpers.MEMBER)
    assert r.status_code == 201 and r.json()["principalType"] == "User"
    assert len(graph.get(f"/users/{ids.diego}/appRoleAssignments").json()["value"]) == 1


def test_duplicate_assignment(graph, with_roles, tenant, helpers):
    ids = with_roles
    assert assign(graph, ids, ids.admins, helpers.ADMIN).status_code == 201
    assert helpers.error(assign(graph, ids, ids.admins, helpers.ADMIN)) == (
        400, "Request_BadRequest", "Permission being assigned already exists on the object.")
    assert len(tenant.state["appRoleAssignments"]) == 1
    # same group, another role: a second assignment is allowed (Graph de-duplicates the triple only)
    assert assign(graph, ids, ids.admins, helpers.MEMBER).status_code == 201


def test_role_not_on_sp(graph, ids, helpers):
    r = assign(graph, ids, ids.admins, "22222222-0000-4000-8000-000000000000")
    assert helpers.error(r) == (400, "Request_BadRequest", "Permission being assigned was not found on application.")


def test_default_access_refused_when_app_declares_roles(graph, ids, helpers):
    assert helpers.error(assign(graph, ids, ids.admins, DEFAULT_ACCESS_ROLE_ID))[:2] == (400, "Request_BadRequest")


def test_default_roles_can_be_assigned(graph, ids):
    assert assign(graph, ids, ids.members, MSIAM_ACCESS_ROLE_ID).status_code == 201


def test_disabled_role_cannot_be_assigned(graph, with_roles, helpers):
    ids = with_roles
    roles = [{k: v for k, v in r.items() if k != "origin"} for r in graph.get(f"/applications/{ids.app}").json()["appRoles"]]
    for r in roles:
        if r["id"] == helpers.MEMBER:
            r["isEnabled"] = False
    assert graph.patch(f"/applications/{ids.app}", json={"appRoles": roles}).status_code == 204
    assert assign(graph, ids, ids.members, helpers.MEMBER).status_code == 400


def test_non_security_group_refused(graph, with_roles, tenant, helpers):
    ids = with_roles
    status, code, message = helpers.error(assign(graph, ids, ids.all_company, helpers.MEMBER))
    assert (status, code) == (400, "Request_BadRequest")
    assert "All Company" in message and "security group" in message
    assert tenant.state["appRoleAssignments"] == {}


def test_unknown_principal(graph, with_roles, helpers):
    ids = with_roles
    r = assign(graph, ids, "99999999-0000-4000-8000-000000000000", helpers.ADMIN)
    assert helpers.error(r)[:2] == (404, "Request_ResourceNotFound")


def test_resource_id_must_match(graph, with_roles, helpers):
    ids = with_roles
    r = graph.post(f"/servicePrincipals/{ids.sp}/appRoleAssignedTo",
                   json={"principalId": ids.admins, "resourceId": ids.app, "appRoleId": helpers.ADMIN})
    assert r.status_code == 400


def test_delete_assignment(graph, with_roles, tenant):
    ids = with_roles
    aid = assign(graph, ids, ids.admins, "11111111-0000-4000-8000-000000000001").json()["id"]
    assert graph.delete(f"/servicePrincipals/{ids.sp}/appRoleAssignedTo/{aid}").status_code == 204
    assert tenant.state["appRoleAssignments"] == {}
    assert graph.delete(f"/servicePrincipals/{ids.sp}/appRoleAssignedTo/{aid}").status_code == 404


def test_assignment_id_is_graph_shaped_and_stable(graph, with_roles, helpers):
    ids = with_roles
    a = assign(graph, ids, ids.admins, helpers.ADMIN).json()
    assert len(a["id"]) == 43 and "=" not in a["id"]
    graph.delete(f"/servicePrincipals/{ids.sp}/appRoleAssignedTo/{a['id']}")
    assert assign(graph, ids, ids.admins, helpers.ADMIN).json()["id"] == a["id"]


def test_write_permission_denied(graph, with_roles, tenant, helpers):
    ids = with_roles
    tenant.denied_permissions.add("AppRoleAssignment.ReadWrite.All")
    assert helpers.error(assign(graph, ids, ids.admins, helpers.ADMIN)) == (
        403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    assert graph.get(f"/servicePrincipals/{ids.sp}/appRoleAssignedTo").status_code == 200


def test_filter_assignments(graph, with_roles, helpers):
    ids = with_roles
    assign(graph, ids, ids.admins, helpers.ADMIN)
    assign(graph, ids, ids.members, helpers.MEMBER)
    r = graph.get(f"/servicePrincipals/{ids.sp}/appRoleAssignedTo",
                  params={"$filter": "principalDisplayName eq 'Natoma Members'"})
    assert [a["principalId"] for a in r.json()["value"]] == [ids.members]
