"""The sandbox's bare tenant, template instantiate with replication, group creation and deletion, app deletion."""
import httpx

from natoma_entra.sandbox.graph import GraphHandler
from natoma_entra.sandbox.state import NON_GALLERY_TEMPLATE_ID, Tenant, user_id
from natoma_entra.sandbox.transport import SandboxSyncTransport


def _client(tenant, helpers):
    return httpx.Client(transport=SandboxSyncTransport(GraphHandler(tenant)), base_url=helpers.BASE,
                        headers=helpers.AUTH)


def test_an_empty_tenant_has_users_but_no_app_and_no_role_groups(clock):
    t = Tenant.initial(empty=True, clock=clock)
    assert not t.state["applications"] and not t.state["servicePrincipals"]
    assert [g["displayName"] for g in t.state["groups"].values()] == ["All Company"]
    assert user_id("Adele Vance") in t.state["users"]
    assert NON_GALLERY_TEMPLATE_ID in t.state["applicationTemplates"]


def test_instantiate_then_the_new_app_replicates(clock, helpers):
    t = Tenant.initial(empty=True, clock=clock, replication_seconds=10)
    with _client(t, helpers) as g:
        r = g.post(f"/applicationTemplates/{NON_GALLERY_TEMPLATE_ID}/instantiate", json={"displayName": "Natoma"})
        assert r.status_code == 201
        app, sp = r.json()["application"], r.json()["servicePrincipal"]
        assert g.get(f"/applications/{app['id']}").status_code == 404
        assert g.get("/servicePrincipals", params={"$filter": "displayName eq 'Natoma'"}).json()["value"] == []
        assert g.patch(f"/applications/{app['id']}", json={"notes": "x"}).status_code == 204  # a write goes through
        clock.t += 10
        assert g.get(f"/applications/{app['id']}").json()["notes"] == "x"
        assert [s["id"] for s in g.get("/servicePrincipals", params={"$filter": "displayName eq 'Natoma'"}).json()["value"]] == [sp["id"]]
        assert g.delete(f"/servicePrincipals/{sp['id']}").status_code == 204
        assert g.delete(f"/applications/{app['id']}").status_code == 204
        assert g.get(f"/applications/{app['id']}").status_code == 404
        assert not t.state["servicePrincipals"]


def test_group_creation_needs_the_four_properties_and_replicates(clock, helpers):
    error = helpers.error
    t = Tenant.initial(clock=clock, replication_seconds=10)
    body = {"displayName": "Natoma Ops", "mailEnabled": False, "mailNickname": "NatomaOps", "securityEnabled": True}
    with _client(t, helpers) as g:
        for missing in ("displayName", "mailNickname", "mailEnabled", "securityEnabled"):
            r = g.post("/groups", json={k: v for k, v in body.items() if k != missing})
            assert error(r)[:2] == (400, "Request_BadRequest"), missing
        assert error(g.post("/groups", json=dict(body, mailNickname="Natoma Ops")))[0] == 400  # a space
        assert error(g.post("/groups", json=dict(body, mailEnabled=True)))[0] == 400  # mail-enabled security group
        r = g.post("/groups", json=body)
        assert r.status_code == 201
        gid = r.json()["id"]
        assert g.get(f"/groups/{gid}").status_code == 404  # replicating
        sp = t.find_sp("Natoma")
        roles = g.get(f"/applications/{t.find_app('Natoma')['id']}").json()["appRoles"]
        a = g.post(f"/servicePrincipals/{sp['id']}/appRoleAssignedTo",
                   json={"principalId": gid, "resourceId": sp["id"], "appRoleId": roles[0]["id"]})
        assert a.status_code == 404  # the group is not found until it has replicated
        clock.t += 10
        assert g.get(f"/groups/{gid}").json()["securityEnabled"] is True
        a = g.post(f"/servicePrincipals/{sp['id']}/appRoleAssignedTo",
                   json={"principalId": gid, "resourceId": sp["id"], "appRoleId": roles[0]["id"]})
        assert a.status_code == 201
        assert g.delete(f"/groups/{gid}").status_code == 204
        assert g.get(f"/groups/{gid}").status_code == 404
        assert not [x for x in t.state["appRoleAssignments"].values() if x["principalId"] == gid]
