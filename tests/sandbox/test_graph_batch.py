"""POST /$batch (Graph docs concepts/json-batching.md)."""


def batch(graph, requests):
    return graph.post("/$batch", json={"requests": requests})


def test_batch_reads(graph, ids, handler):
    r = batch(graph, [
        {"id": "1", "method": "GET", "url": f"/servicePrincipals/{ids.sp}?$select=id,appRoles"},
        {"id": "2", "method": "GET", "url": "/groups?$filter=displayName eq 'Natoma Admins'"},
        {"id": "3", "method": "GET", "url": "groups/00000000-0000-0000-0000-000000000000"},
    ])
    assert r.status_code == 200
    by_id = {x["id"]: x for x in r.json()["responses"]}
    assert by_id["1"]["status"] == 200 and set(by_id["1"]["body"]) >= {"id", "appRoles"}
    assert by_id["2"]["body"]["value"][0]["id"] == ids.admins
    assert by_id["3"]["status"] == 404 and by_id["3"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    # every item is in the request log; a batch of reads is not a write
    assert ("GET", f"/v1.0/servicePrincipals/{ids.sp}?$select=id,appRoles", 200) in handler.log
    assert handler.writes() == []


def test_batch_depends_on_failed_gives_424(graph, with_roles, tenant, helpers):
    ids = with_roles
    assign = {"method": "POST", "url": f"/servicePrincipals/{ids.sp}/appRoleAssignedTo",
              "headers": {"Content-Type": "application/json"}}
    r = batch(graph, [
        dict(assign, id="a", body={"principalId": ids.all_company, "resourceId": ids.sp, "appRoleId": helpers.MEMBER}),
        dict(assign, id="b", dependsOn=["a"],
             body={"principalId": ids.members, "resourceId": ids.sp, "appRoleId": helpers.MEMBER}),
        dict(assign, id="c", body={"principalId": ids.admins, "resourceId": ids.sp, "appRoleId": helpers.ADMIN}),
    ])
    by_id = {x["id"]: x for x in r.json()["responses"]}
    assert by_id["a"]["status"] == 400
    assert by_id["b"]["status"] == 424
    assert by_id["c"]["status"] == 201
    assert [a["principalId"] for a in tenant.state["appRoleAssignments"].values()] == [ids.admins]


def test_batch_depends_on_success_runs_in_order(graph, ids):
    r = batch(graph, [
        {"id": "2", "method": "GET", "url": f"/servicePrincipals/{ids.sp}/synchronization/jobs", "dependsOn": ["1"]},
        {"id": "1", "method": "POST", "url": f"/servicePrincipals/{ids.sp}/synchronization/jobs",
         "headers": {"Content-Type": "application/json"}, "body": {"templateId": "scim"}},
    ])
    responses = r.json()["responses"]
    assert [x["id"] for x in responses] == ["1", "2"]
    assert responses[0]["status"] == 201 and len(responses[1]["body"]["value"]) == 1


def test_batch_limits_and_ids(graph, helpers):
    too_many = [{"id": str(i), "method": "GET", "url": "/users"} for i in range(21)]
    assert batch(graph, too_many).status_code == 400
    assert batch(graph, too_many[:20]).status_code == 200
    dup = [{"id": "1", "method": "GET", "url": "/users"}, {"id": "1", "method": "GET", "url": "/groups"}]
    assert batch(graph, dup).status_code == 400
    assert batch(graph, [{"id": "1", "method": "GET", "url": "/users", "dependsOn": ["9"]}]).status_code == 400


def test_batch_body_needs_content_type(graph, ids):
    r = batch(graph, [{"id": "1", "method": "POST", "url": f"/servicePrincipals/{ids.sp}/synchronization/jobs",
                       "body": {"templateId": "scim"}}])
    assert r.json()["responses"][0]["status"] == 400


def test_batch_needs_auth(graph, helpers):
    r = graph.post("/$batch", json={"requests": [{"id": "1", "method": "GET", "url": "/users"}]},
                   headers={"Authorization": ""})
    assert r.status_code == 401
