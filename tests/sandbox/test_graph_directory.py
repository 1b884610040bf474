"""The simulated directory: initial tenant, auth, errors, filters, $select, paging, alternate keys, members."""

import json

import httpx

from natoma_entra.sandbox import make_transport
from natoma_entra.sandbox.state import (
    MSIAM_ACCESS_ROLE_ID,
    NON_GALLERY_TEMPLATE_ID,
    USER_ROLE_ID,
    Tenant,
    det_id,
)


# initial tenant -------------------------------------------------------------------------------------------------

def test_initial_tenant_is_realistic_and_deterministic(tenant, ids):
    st = tenant.state
    assert Tenant.initial().state == st  # same ids every time
    app = st["applications"][ids.app]
    sp = st["servicePrincipals"][ids.sp]
    assert app["appId"] == sp["appId"]
    assert sp["appRoleAssignmentRequired"] is True
    assert sp["tags"] == ["WindowsAzureActiveDirectoryIntegratedApp"]
    assert sp["applicationTemplateId"] == NON_GALLERY_TEMPLATE_ID
    for roles in (app["appRoles"], sp["appRoles"]):
        assert {r["id"]: r["value"] for r in roles} == {USER_ROLE_ID: None, MSIAM_ACCESS_ROLE_ID: None}
        assert all(r["origin"] == "Application" and r["isEnabled"] for r in roles)
    assert st["jobs"] == {} and st["schemas"] == {} and st["appRoleAssignments"] == {}
    groups = {g["displayName"]: g for g in st["groups"].values()}
    assert set(groups) == {"Natoma Admins", "Natoma App Admins", "Natoma Members", "Natoma Contractors", "All Company"}
    assert groups["All Company"]["securityEnabled"] is False and groups["All Company"]["groupTypes"] == ["Unified"]
    m = st["members"]
    assert ids.adele in m[ids.admins] and ids.alex in m[ids.app_admins] and ids.megan in m[ids.members]
    assert ids.lee in m[ids.admins] and ids.lee in m[ids.members]
    assert ids.contractors in m[ids.members] and ids.pradeep in m[ids.contractors]
    assert ids.pradeep not in m[ids.members]
    assert not any(ids.diego in m[g] for g in (ids.admins, ids.app_admins, ids.members, ids.contractors))


def test_save_load_round_trip(tmp_path, tenant):
    path = tmp_path / "state.json"
    tenant.save(path)
    again = Tenant.load(path)
    assert again.state == json.loads(json.dumps(tenant.state))
    assert Tenant.from_state(json.loads(path.read_text())).state == again.state


# auth and errors ----------------------------------------------------------------------------------------------

def test_no_or_wrong_token_is_401(handler, helpers):
    with httpx.Client(transport=make_transport(handler.tenant, sync=True), base_url=helpers.BASE) as c:
        r = c.get("/users")
        assert helpers.error(r) == (401, "InvalidAuthenticationToken", "Access token is empty.")
        r = c.get("/users", headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "InvalidAuthenticationToken"
        assert r.headers["request-id"] == r.json()["error"]["innerError"]["request-id"]


def test_not_found_shape(graph, helpers):
    r = graph.get("/groups/00000000-1111-2222-3333-444444444444", headers={"client-request-id": "abc"})
    status, code, message = helpers.error(r)
    assert (status, code) == (404, "Request_ResourceNotFound")
    assert message == ("Resource '00000000-1111-2222-3333-444444444444' does not exist or one of its queried "
                       "reference-property objects are not present.")
    inner = r.json()["error"]["innerError"]
    assert inner["client-request-id"] == "abc" and inner["request-id"] and inner["date"]


def test_unknown_segment_and_method(graph, ids):
    r = graph.get("/frobnicators")
    assert r.status_code == 400 and r.json()["error"]["code"] == "Request_BadRequest"
    r = graph.delete(f"/users/{ids.adele}")
    assert r.status_code == 405


def test_denied_permission_is_403(graph, tenant, helpers):
    tenant.denied_permissions.add("Group.Read.All")
    assert helpers.error(graph.get("/groups")) == (
        403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    assert graph.get("/users").status_code == 200


# filters, select, paging --------------------------------------------------------------------------------------

def test_filter_display_name_eq_case_insensitive_and_select(graph, ids):
    r = graph.get("/servicePrincipals", params={"$filter": "displayName eq 'natoma'", "$select": "id,appId"})
    assert r.status_code == 200
    assert r.json()["value"] == [{"id": ids.sp, "appId": ids.app_id}]
    r = graph.get("/applications", params={"$filter": f"appId eq '{ids.app_id}'"})
    assert [a["id"] for a in r.json()["value"]] == [ids.app]


def test_filter_startswith_and_in(graph, ids):
    r = graph.get("/groups", params={"$filter": "startswith(displayName,'Natoma A')"})
    assert sorted(g["displayName"] for g in r.json()["value"]) == ["Natoma Admins", "Natoma App Admins"]
    r = graph.get("/groups", params={"$filter": f"id in ('{ids.admins}', '{ids.members}')"})
    assert {g["id"] for g in r.json()["value"]} == {ids.admins, ids.members}


def test_filter_with_doubled_quote(graph, tenant):
    gid = det_id("group", "O'Brien Team")
    tenant.state["groups"][gid] = {"id": gid, "displayName": "O'Brien Team", "securityEnabled": True,
                                   "mailEnabled": False, "mailNickname": "obrien", "groupTypes": []}
    r = graph.get("/groups", params={"$filter": "displayName eq 'O''Brien Team'"})
    assert [g["id"] for g in r.json()["value"]] == [gid]
    r = graph.get("/groups", params={"$filter": "displayName eq 'O'Brien Team'"})
    assert r.status_code == 400


def test_filter_users(graph, ids):
    r = graph.get("/users", params={"$filter": "userPrincipalName eq 'AdeleV@contoso.onmicrosoft.com'"})
    assert [u["id"] for u in r.json()["value"]] == [ids.adele]
    r = graph.get("/users", params={"$filter": "mail eq 'leeg@contoso.onmicrosoft.com'"})
    assert [u["id"] for u in r.json()["value"]] == [ids.lee]
    r = graph.get("/users", params={"$filter": "displayName eq 'Megan Bowen'"})
    assert [u["id"] for u in r.json()["value"]] == [ids.megan]


def test_paging_with_next_link(graph):
    seen, url, pages = [], "/users?$top=4", 0
    while url:
        body = graph.get(url).json()
        pages += 1
        seen += [u["displayName"] for u in body["value"]]
        url = body.get("@odata.nextLink")
        if url:
            assert url.startswith("https://graph.microsoft.com/v1.0/users?")
    assert pages == 2 and len(seen) == 6 and len(set(seen)) == 6


def test_top_out_of_range(graph):
    assert graph.get("/users", params={"$top": "1000"}).status_code == 400


# alternate keys, users, groups ----------------------------------------------------------------------------------

def test_alternate_key_app_id(graph, ids):
    assert graph.get(f"/servicePrincipals(appId='{ids.app_id}')").json()["id"] == ids.sp
    assert graph.get(f"/applications(appId='{ids.app_id}')").json()["id"] == ids.app
    r = graph.get(f"/servicePrincipals(appId='{ids.app_id}')/appRoleAssignedTo")
    assert r.status_code == 200 and r.json()["value"] == []
    assert graph.get("/servicePrincipals(appId='00000000-0000-0000-0000-00000000abcd')").status_code == 404


def test_user_by_upn_and_member_of(graph, ids):
    assert graph.get("/users/LeeG@contoso.onmicrosoft.com").json()["id"] == ids.lee
    names = {g["displayName"] for g in graph.get(f"/users/{ids.lee}/memberOf").json()["value"]}
    assert names == {"Natoma Admins", "Natoma Members", "All Company"}
    direct = {g["displayName"] for g in graph.get(f"/users/{ids.pradeep}/memberOf").json()["value"]}
    assert direct == {"Natoma Contractors", "All Company"}


def test_group_members_and_transitive_members(graph, ids):
    members = graph.get(f"/groups/{ids.members}/members").json()["value"]
    assert {(m["@odata.type"], m["displayName"]) for m in members} == {
        ("#microsoft.graph.user", "Megan Bowen"), ("#microsoft.graph.user", "Lee Gu"),
        ("#microsoft.graph.group", "Natoma Contractors")}
    trans = graph.get(f"/groups/{ids.members}/transitiveMembers").json()["value"]
    assert "Pradeep Gupta" in {m["displayName"] for m in trans}


def test_instantiate_creates_app_and_sp(graph, tenant, helpers):
    r = graph.post(f"/applicationTemplates/{NON_GALLERY_TEMPLATE_ID}/instantiate", json={"displayName": "Natoma Dev"})
    assert r.status_code == 201
    body = r.json()
    app, sp = body["application"], body["servicePrincipal"]
    assert app["appId"] == sp["appId"] and sp["appRoleAssignmentRequired"] is True
    assert app["id"] in tenant.state["applications"] and sp["id"] in tenant.state["servicePrincipals"]
    assert graph.post("/applicationTemplates/00000000-0000-0000-0000-000000000001/instantiate",
                      json={"displayName": "x"}).status_code == 404
    assert graph.post(f"/applicationTemplates/{NON_GALLERY_TEMPLATE_ID}/instantiate", json={}).status_code == 400


def test_request_log_and_writes(graph, handler, ids):
    graph.get("/users", params={"$filter": "displayName eq 'Lee Gu'"})
    graph.patch(f"/applications/{ids.app}", json={"notes": "hello"})
    assert handler.log[0] == ("GET", "/v1.0/users?$filter=displayName eq 'Lee Gu'", 200)
    assert handler.writes() == [("PATCH", f"/v1.0/applications/{ids.app}", 204)]
