"""PATCH /applications/{id} appRoles: Graph's rules, and the copy of roles onto the service principal."""

import copy

import httpx
import pytest

from natoma_entra.sandbox.graph import GraphHandler
from natoma_entra.sandbox.state import USER_ROLE_ID, Tenant
from natoma_entra.sandbox.transport import SandboxSyncTransport


def roles_of(graph, ids):
    return [{k: v for k, v in r.items() if k != "origin"} for r in graph.get(f"/applications/{ids.app}").json()["appRoles"]]


def patch_roles(graph, ids, roles):
    return graph.patch(f"/applications/{ids.app}", json={"appRoles": roles})


def test_add_roles_keeps_existing_and_mirrors_to_sp(graph, ids, tenant, helpers):
    r = patch_roles(graph, ids, helpers.natoma_roles(roles_of(graph, ids)))
    assert r.status_code == 204 and r.content == b""
    app_values = {r["value"] for r in tenant.state["applications"][ids.app]["appRoles"]}
    assert app_values == {None, "admin", "AppAdmin", "member"}
    sp_roles = graph.get(f"/servicePrincipals/{ids.sp}").json()["appRoles"]
    assert {r["value"] for r in sp_roles} == app_values
    assert all(r["origin"] == "Application" for r in sp_roles)


def test_patch_is_idempotent_with_same_roles(graph, ids, helpers):
    roles = helpers.natoma_roles(roles_of(graph, ids))
    assert patch_roles(graph, ids, roles).status_code == 204
    assert patch_roles(graph, ids, roles_of(graph, ids)).status_code == 204


def test_removing_an_enabled_role_is_refused(graph, ids, tenant, helpers):
    before = copy.deepcopy(tenant.state["applications"][ids.app]["appRoles"])
    r = patch_roles(graph, ids, [x for x in roles_of(graph, ids) if x["id"] != USER_ROLE_ID])
    assert helpers.error(r) == (400, "CannotDeleteOrUpdateEnabledEntitlement",
                                "Permission (scope or role) cannot be deleted or updated unless disabled first")
    assert tenant.state["applications"][ids.app]["appRoles"] == before


def test_changing_an_enabled_role_is_refused(graph, ids, helpers):
    patch_roles(graph, ids, helpers.natoma_roles(roles_of(graph, ids)))
    roles = roles_of(graph, ids)
    for field, value in (("value", "administrator"), ("displayName", "Administrator"),
                         ("allowedMemberTypes", ["User", "Application"])):
        changed = copy.deepcopy(roles)
        next(r for r in changed if r["value"] == "admin")[field] = value
        assert helpers.error(patch_roles(graph, ids, changed))[1] == "CannotDeleteOrUpdateEnabledEntitlement", field


def test_disable_then_remove(graph, ids, tenant, helpers):
    patch_roles(graph, ids, helpers.natoma_roles(roles_of(graph, ids)))
    roles = roles_of(graph, ids)
    # disabling alone is allowed...
    for r in roles:
        if r["value"] == "member":
            r["isEnabled"] = False
    assert patch_roles(graph, ids, roles).status_code == 204
    # ...changing a disabled role is allowed too...
    next(r for r in roles if r["value"] == "member")["description"] = "old"
    assert patch_roles(graph, ids, roles).status_code == 204
    # ...and then it can be removed in a later call.
    assert patch_roles(graph, ids, [r for r in roles if r["value"] != "member"]).status_code == 204
    assert "member" not in {r["value"] for r in tenant.state["applications"][ids.app]["appRoles"]}
    assert "member" not in {r["value"] for r in tenant.state["servicePrincipals"][ids.sp]["appRoles"]}


def test_disable_and_change_in_one_call_is_refused(graph, ids, helpers):
    patch_roles(graph, ids, helpers.natoma_roles(roles_of(graph, ids)))
    roles = roles_of(graph, ids)
    admin = next(r for r in roles if r["value"] == "admin")
    admin["isEnabled"], admin["value"] = False, "admins"
    assert helpers.error(patch_roles(graph, ids, roles))[1] == "CannotDeleteOrUpdateEnabledEntitlement"


def test_duplicate_ids(graph, ids, helpers):
    roles = helpers.natoma_roles(roles_of(graph, ids))
    roles[-1]["id"] = roles[-2]["id"]
    assert helpers.error(patch_roles(graph, ids, roles)) == (
        400, "Request_BadRequest", "Duplicate 'id' values are present in the 'appRoles' values.")


def test_duplicate_value(graph, ids, helpers):
    roles = helpers.natoma_roles(roles_of(graph, ids))
    roles[-1]["value"] = "admin"
    status, code, message = helpers.error(patch_roles(graph, ids, roles))
    assert (status, code) == (400, "Request_BadRequest") and "Duplicate 'value'" in message


@pytest.mark.parametrize("value", ["app admin", "x" * 121, ".hidden", "rôle"])
def test_invalid_value(graph, ids, helpers, value):
    roles = helpers.natoma_roles(roles_of(graph, ids))
    roles[-1]["value"] = value
    assert helpers.error(patch_roles(graph, ids, roles))[:2] == (400, "Request_BadRequest")


def test_value_of_120_chars_with_punctuation_is_fine(graph, ids, helpers):
    roles = helpers.natoma_roles(roles_of(graph, ids))
    roles[-1]["value"] = "a:b!#$%&'()*+,-./;<=>?@[]^_`{|}~" + "x" * 88
    assert len(roles[-1]["value"]) == 120
    assert patch_roles(graph, ids, roles).status_code == 204


def test_origin_is_read_only(graph, ids, helpers):
    roles = graph.get(f"/applications/{ids.app}").json()["appRoles"]  # as read: with origin
    status, code, message = helpers.error(patch_roles(graph, ids, roles))
    assert (status, code) == (400, "Request_BadRequest") and "origin" in message


def test_sp_role_lag_is_measured_in_seconds_on_the_tenant_clock(ids, helpers, clock):
    tenant = Tenant.initial(sp_role_lag=2.5, clock=clock)
    with httpx.Client(transport=SandboxSyncTransport(GraphHandler(tenant)), base_url=helpers.BASE,
                      headers=helpers.AUTH) as graph:
        assert patch_roles(graph, ids, helpers.natoma_roles(roles_of(graph, ids))).status_code == 204

        def sp_values():
            return {r["value"] for r in graph.get(f"/servicePrincipals/{ids.sp}").json()["appRoles"]}

        # reads alone do not make the roles appear: only time does
        for _ in range(5):
            assert sp_values() == {None}
        # assignments check the SP's visible roles: the new role is not there yet
        r = graph.post(f"/servicePrincipals/{ids.sp}/appRoleAssignedTo",
                       json={"principalId": ids.admins, "resourceId": ids.sp, "appRoleId": helpers.ADMIN})
        assert helpers.error(r) == (400, "Request_BadRequest", "Permission being assigned was not found on application.")
        clock.t += 2
        listed = graph.get("/servicePrincipals", params={"$filter": "displayName eq 'Natoma'"}).json()["value"][0]
        assert {r["value"] for r in listed["appRoles"]} == {None}  # 2 s of 2.5
        clock.t += 0.5
        assert sp_values() == {None, "admin", "AppAdmin", "member"}  # due
        r = graph.post(f"/servicePrincipals/{ids.sp}/appRoleAssignedTo",
                       json={"principalId": ids.admins, "resourceId": ids.sp, "appRoleId": helpers.ADMIN})
        assert r.status_code == 201
        assert tenant.state["spRolesPending"] == {}


def test_read_only_application_property(graph, ids):
    assert graph.patch(f"/applications/{ids.app}", json={"appId": "x"}).status_code == 400
