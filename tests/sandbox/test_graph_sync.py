"""Synchronization: templates, jobs, schema, secrets, validateCredentials, start/restart,
provisionOnDemand (with a fake engine where the test is about the Graph surface; the real engine at the end)."""

import copy

import pytest

from natoma_entra.sandbox.state import NATOMA_TOKEN, NATOMA_URL

SINGLE = "SingleAppRoleAssignment([appRoleAssignments])"
ROLE_TARGET = 'roles[primary eq "True"].value'


def sync(ids):
    return f"/servicePrincipals/{ids.sp}/synchronization"


@pytest.fixture
def job(graph, ids):
    r = graph.post(f"{sync(ids)}/jobs", json={"templateId": "scim"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def put_secrets(graph, ids, token=NATOMA_TOKEN, url=NATOMA_URL, **extra):
    body = [{"key": "BaseAddress", "value": url}, {"key": "SecretToken", "value": token}]
    body += [{"key": k, "value": v} for k, v in extra.items()]
    return graph.put(f"{sync(ids)}/secrets", json={"value": body})


def user_mapping(schema):
    rule = schema["synchronizationRules"][0]
    return rule, next(m for m in rule["objectMappings"] if m["sourceObjectName"] == "User")


# templates and jobs -------------------------------------------------------------------------------------------

def test_templates(graph, ids):
    value = graph.get(f"{sync(ids)}/templates").json()["value"]
    assert [t["id"] for t in value] == ["scim"]
    assert value[0]["applicationId"] == ids.app_id and value[0]["schema"]["synchronizationRules"]
    schema = graph.get(f"{sync(ids)}/templates/scim/schema").json()
    assert schema["directories"] == value[0]["schema"]["directories"]


def test_no_job_at_first(graph, ids):
    assert graph.get(f"{sync(ids)}/jobs").json()["value"] == []


def test_create_job(graph, ids, tenant, job):
    assert job == f"scim.{ids.tenant.replace('-', '')}.{ids.app_id.replace('-', '')}"
    j = graph.get(f"{sync(ids)}/jobs/{job}").json()
    assert j["templateId"] == "scim"
    assert j["schedule"] == {"expiration": None, "interval": "P10675199DT2H48M5.4775807S", "state": "Disabled"}
    assert j["status"]["code"] == "NotConfigured"
    assert [x["id"] for x in graph.get(f"{sync(ids)}/jobs").json()["value"]] == [job]
    assert job in tenant.state["schemas"]


def test_create_job_unknown_template(graph, ids, tenant):
    r = graph.post(f"{sync(ids)}/jobs", json={"templateId": "salesforce"})
    assert r.status_code == 400
    assert tenant.state["jobs"].get(ids.sp, {}) == {}


def test_delete_job(graph, ids, tenant, job):
    assert graph.delete(f"{sync(ids)}/jobs/{job}").status_code == 204
    assert tenant.state["jobs"][ids.sp] == {} and job not in tenant.state["schemas"]
    assert graph.get(f"{sync(ids)}/jobs/{job}").status_code == 404


# schema -------------------------------------------------------------------------------------------------------

def test_schema_patch_is_404(graph, ids, job, helpers):
    schema = graph.get(f"{sync(ids)}/jobs/{job}/schema").json()
    status, code, message = helpers.error(graph.patch(f"{sync(ids)}/jobs/{job}/schema", json=schema))
    assert (status, code) == (404, "UnknownError") and "No HTTP resource was found that matches the request URI" in message


def test_schema_put_replaces(graph, ids, job, tenant):
    schema = graph.get(f"{sync(ids)}/jobs/{job}/schema").json()
    assert "@odata.context" in schema
    rule, mapping = user_mapping(schema)
    mapping["attributeMappings"].append({
        "defaultValue": None, "exportMissingReferences": False, "flowBehavior": "FlowWhenChanged",
        "flowType": "Always", "matchingPriority": 0, "targetAttributeName": ROLE_TARGET,
        "source": {"expression": SINGLE, "name": "SingleAppRoleAssignment", "type": "Function", "parameters": [
            {"key": "source", "value": {"expression": "[appRoleAssignments]", "name": "appRoleAssignments",
                                        "parameters": [], "type": "Attribute"}}]}})
    # drop the group mapping: PUT replaces everything, so it is gone afterwards
    rule["objectMappings"] = [m for m in rule["objectMappings"] if m["sourceObjectName"] == "User"]
    assert graph.put(f"{sync(ids)}/jobs/{job}/schema", json=schema).status_code == 204
    stored = tenant.state["schemas"][job]
    assert "@odata.context" not in stored
    again = graph.get(f"{sync(ids)}/jobs/{job}/schema").json()
    assert len(again["synchronizationRules"][0]["objectMappings"]) == 1
    assert any(m["targetAttributeName"] == ROLE_TARGET for m in user_mapping(again)[1]["attributeMappings"])
    # DELETE resets to the template
    assert graph.delete(f"{sync(ids)}/jobs/{job}/schema").status_code == 204
    reset = graph.get(f"{sync(ids)}/jobs/{job}/schema").json()
    assert len(reset["synchronizationRules"][0]["objectMappings"]) == 2


def test_schema_put_undefined_target_refused(graph, ids, job, tenant):
    before = copy.deepcopy(tenant.state["schemas"][job])
    schema = graph.get(f"{sync(ids)}/jobs/{job}/schema").json()
    user_mapping(schema)[1]["attributeMappings"].append({
        "targetAttributeName": "roles", "flowType": "Always", "matchingPriority": 0,
        "source": {"expression": "AppRoleAssignmentsComplex([appRoleAssignments])", "name": "AppRoleAssignmentsComplex",
                   "type": "Function", "parameters": []}})
    r = graph.put(f"{sync(ids)}/jobs/{job}/schema", json=schema)
    assert r.status_code == 400
    assert "'roles'" in r.json()["error"]["message"] and "not defined" in r.json()["error"]["message"]
    assert tenant.state["schemas"][job] == before
    # after defining the attribute on the target directory's User object it is accepted
    rule = schema["synchronizationRules"][0]
    target = next(d for d in schema["directories"] if d["name"] == rule["targetDirectoryName"])
    next(o for o in target["objects"] if o["name"] == "User")["attributes"].append(
        {"name": "roles", "type": "String", "multivalued": True, "mutability": "ReadWrite", "anchor": False,
         "caseExact": False, "required": False, "flowNullValues": False, "defaultValue": None,
         "apiExpressions": [], "metadata": [], "referencedObjects": []})
    assert graph.put(f"{sync(ids)}/jobs/{job}/schema", json=schema).status_code == 204


# secrets ------------------------------------------------------------------------------------------------------

def test_secrets_masked_and_merged(graph, ids, tenant):
    assert put_secrets(graph, ids, SyncAll="false").status_code == 204
    got = {s["key"]: s["value"] for s in graph.get(f"{sync(ids)}/secrets").json()["value"]}
    assert got == {"BaseAddress": NATOMA_URL, "SecretToken": "*", "SyncAll": "false"}
    stored = {s["key"]: s["value"] for s in tenant.state["secrets"][ids.sp]}
    assert stored["SecretToken"] == NATOMA_TOKEN
    # a later PUT of one key keeps the others (merge; UNCONFIRMED against Graph)
    assert graph.put(f"{sync(ids)}/secrets", json={"value": [{"key": "SyncAll", "value": "true"}]}).status_code == 204
    stored = {s["key"]: s["value"] for s in tenant.state["secrets"][ids.sp]}
    assert stored == {"BaseAddress": NATOMA_URL, "SecretToken": NATOMA_TOKEN, "SyncAll": "true"}


def test_secrets_camel_case_key_is_500(graph, ids, tenant, helpers):
    r = graph.put(f"{sync(ids)}/secrets", json={"value": [{"key": "baseAddress", "value": NATOMA_URL}]})
    assert helpers.error(r) == (500, "InternalError", "Requested value 'baseAddress' was not found.")
    assert tenant.state["secrets"].get(ids.sp) in (None, [])


# validateCredentials, start, pause, restart (fake engine) ------------------------------------------------------

def test_validate_credentials_with_job(graph, ids, job, fake_engine, helpers):
    url = f"{sync(ids)}/jobs/{job}/validateCredentials"
    ok = {"useSavedCredentials": False, "credentials": [{"key": "BaseAddress", "value": NATOMA_URL},
                                                        {"key": "SecretToken", "value": NATOMA_TOKEN}]}
    assert graph.post(url, json=ok).status_code == 204
    assert fake_engine.calls[-1] == ("validate", {"BaseAddress": NATOMA_URL, "SecretToken": NATOMA_TOKEN})
    bad = copy.deepcopy(ok)
    bad["credentials"][1]["value"] = "wrong"
    status, code, message = helpers.error(graph.post(url, json=bad))
    assert status == 400 and code == "SystemForCrossDomainIdentityManagementCredentialValidationUnavailable"
    assert "401 Unauthorized" in message


def test_validate_credentials_saved_and_without_job(graph, ids, fake_engine):
    put_secrets(graph, ids)
    url = f"{sync(ids)}/jobs/validateCredentials"
    assert graph.post(url, json={"templateId": "scim", "useSavedCredentials": True}).status_code == 204
    assert fake_engine.calls[-1][1]["SecretToken"] == NATOMA_TOKEN
    assert graph.post(url, json={"templateId": "nope", "useSavedCredentials": True}).status_code == 400


def test_validate_credentials_is_not_a_write(graph, ids, job, handler, fake_engine):
    put_secrets(graph, ids)
    n = len(handler.writes())
    graph.post(f"{sync(ids)}/jobs/{job}/validateCredentials", json={"useSavedCredentials": True})
    assert len(handler.writes()) == n


def test_start_without_secrets_is_refused(graph, ids, job, tenant, fake_engine):
    r = graph.post(f"{sync(ids)}/jobs/{job}/start")
    assert r.status_code == 400 and "SecretToken" in r.json()["error"]["message"]
    assert tenant.state["jobs"][ids.sp][job]["schedule"]["state"] == "Disabled"
    assert fake_engine.calls == []


def test_start_then_restart_clears_a_pause_and_quarantine(graph, ids, job, tenant, fake_engine):
    put_secrets(graph, ids)
    assert graph.post(f"{sync(ids)}/jobs/{job}/start").status_code == 204
    j = tenant.state["jobs"][ids.sp][job]
    assert j["schedule"] == {"expiration": None, "interval": "PT40M", "state": "Active"}
    assert fake_engine.calls == [("run_cycle", ids.sp, job)]
    # start on an active job changes nothing
    assert graph.post(f"{sync(ids)}/jobs/{job}/start").status_code == 204
    assert len(fake_engine.calls) == 1
    j["schedule"]["state"], j["status"]["code"] = "Paused", "Paused"  # paused in the portal
    j["status"]["quarantine"] = {"reason": "EncounteredQuarantineException"}
    r = graph.post(f"{sync(ids)}/jobs/{job}/restart",
                   json={"criteria": {"resetScope": "Watermark, Escrows, QuarantineState"}})
    assert r.status_code == 204
    assert j["schedule"]["state"] == "Active" and j["status"]["quarantine"] is None
    assert fake_engine.calls[-1] == ("run_cycle", ids.sp, job)
    assert graph.post(f"{sync(ids)}/jobs/{job}/restart", json={"criteria": {"resetScope": "Everything"}}).status_code == 400


def test_provision_on_demand_rate_limit(graph, ids, job, clock, fake_engine, helpers):
    url = f"{sync(ids)}/jobs/{job}/provisionOnDemand"
    body = {"parameters": [{"ruleId": "r", "subjects": [{"objectId": ids.adele, "objectTypeName": "User"}]}]}
    for _ in range(5):
        r = graph.post(url, json=body)
        assert r.status_code == 200 and r.json()["key"]
        clock.t += 1
    r = graph.post(url, json=body)
    assert helpers.error(r)[:2] == (429, "TooManyRequests")
    assert r.headers["Retry-After"] == "5"
    assert len([c for c in fake_engine.calls if c[0] == "pod"]) == 5
    clock.t += 5
    assert graph.post(url, json=body).status_code == 200


def test_permissions_on_sync(graph, ids, job, tenant):
    tenant.denied_permissions.add("Synchronization.ReadWrite.All")
    assert graph.put(f"{sync(ids)}/secrets", json={"value": []}).status_code == 403
    assert graph.get(f"{sync(ids)}/jobs").status_code == 200


# with the real engine ------------------------------------------------------------------------------------------


def test_real_engine_validate_credentials(graph, ids, job):
    url = f"{sync(ids)}/jobs/{job}/validateCredentials"
    good = {"credentials": [{"key": "BaseAddress", "value": NATOMA_URL}, {"key": "SecretToken", "value": NATOMA_TOKEN}]}
    assert graph.post(url, json=good).status_code == 204
    good["credentials"][1]["value"] = "wrong-token"
    r = graph.post(url, json=good)
    assert r.status_code == 400 and r.json()["error"]["message"]


def test_real_engine_start_provisions_assigned_users(graph, with_roles, tenant, helpers):
    ids = with_roles
    for group, role in ((ids.admins, helpers.ADMIN), (ids.app_admins, helpers.APPADMIN), (ids.members, helpers.MEMBER)):
        assert graph.post(f"/servicePrincipals/{ids.sp}/appRoleAssignedTo",
                          json={"principalId": group, "resourceId": ids.sp, "appRoleId": role}).status_code == 201
    job_id = graph.post(f"{sync(ids)}/jobs", json={"templateId": "scim"}).json()["id"]
    assert put_secrets(graph, ids, SyncAll="false").status_code == 204
    assert graph.post(f"{sync(ids)}/jobs/{job_id}/start").status_code == 204
    j = graph.get(f"{sync(ids)}/jobs/{job_id}").json()
    assert j["schedule"]["state"] == "Active" and j["status"]["code"] != "NotConfigured"
    logs = graph.get("/auditLogs/provisioning", params={"$filter": f"servicePrincipal/id eq '{ids.sp}'"}).json()
    assert logs["value"], "a cycle writes provisioning logs"
