"""The provisioning engine against the initial tenant and Natoma's stand-in: scope, roles, logs, job status."""

import copy
import json

import pytest

from natoma_entra.sandbox import engine
from natoma_entra.sandbox.natoma import standin_for
from natoma_entra.sandbox.schema_template import USER_RULE_ID, default_schema
from natoma_entra.sandbox.state import (
    MSIAM_ACCESS_ROLE_ID,
    NATOMA_TOKEN,
    NATOMA_URL,
    GraphFault,
    Tenant,
    assignment_id,
    det_id,
    group_id,
    no_dashes,
    user_id,
)

ROLES = {"admin": "Admin", "AppAdmin": "AppAdmin", "member": "Member"}
GROUP_ROLE = {"Natoma Admins": "admin", "Natoma App Admins": "AppAdmin", "Natoma Members": "member"}
ROLE_TARGET = 'roles[primary eq "True"].value'

ADELE, ALEX, MEGAN = user_id("Adele Vance"), user_id("Alex Wilber"), user_id("Megan Bowen")
LEE, DIEGO, PRADEEP = user_id("Lee Gu"), user_id("Diego Siciliani"), user_id("Pradeep Gupta")
UPN = {ADELE: "AdeleV@contoso.onmicrosoft.com", ALEX: "AlexW@contoso.onmicrosoft.com",
       MEGAN: "MeganB@contoso.onmicrosoft.com", LEE: "LeeG@contoso.onmicrosoft.com",
       DIEGO: "DiegoS@contoso.onmicrosoft.com", PRADEEP: "PradeepG@contoso.onmicrosoft.com"}


def role_id(value):
    return det_id("approle", value)


def single_mapping():
    return {
        "defaultValue": None,
        "exportMissingReferences": False,
        "flowBehavior": "FlowWhenChanged",
        "flowType": "Always",
        "matchingPriority": 0,
        "source": {
            "expression": "SingleAppRoleAssignment([appRoleAssignments])",
            "name": "SingleAppRoleAssignment",
            "parameters": [{"key": "source", "value": {"expression": "[appRoleAssignments]", "name": "appRoleAssignments",
                                                       "parameters": [], "type": "Attribute"}}],
            "type": "Function",
        },
        "targetAttributeName": ROLE_TARGET,
    }


def user_mappings(state, job_id):
    [rule] = state["schemas"][job_id]["synchronizationRules"]
    [m] = [m for m in rule["objectMappings"] if m["sourceObjectName"] == "User"]
    return m["attributeMappings"]


def use_complex(state, job_id, function="AssertiveAppRoleAssignmentsComplex", define_roles=True):
    mappings = user_mappings(state, job_id)
    mappings[:] = [m for m in mappings if not m["targetAttributeName"].startswith("roles")]
    m = single_mapping()
    m["source"]["name"] = function
    m["source"]["expression"] = f"{function}([appRoleAssignments])"
    m["targetAttributeName"] = "roles"
    mappings.append(m)
    if define_roles:
        [target] = [d for d in state["schemas"][job_id]["directories"] if d["name"] == "customappsso"]
        [user] = [o for o in target["objects"] if o["name"] == "User"]
        user["attributes"].append({"anchor": False, "apiExpressions": [], "caseExact": False, "defaultValue": None,
                                   "flowNullValues": False, "metadata": [], "multivalued": True,
                                   "mutability": "ReadWrite", "name": "roles", "referencedObjects": [],
                                   "required": False, "type": "String"})


def assign(state, sp, principal_id, principal_type, value_or_role_id):
    rid = role_id(value_or_role_id) if value_or_role_id in ROLES else value_or_role_id
    aid = assignment_id(principal_id, sp["id"], rid)
    principal = (state["groups"] if principal_type == "Group" else state["users"])[principal_id]
    state["appRoleAssignments"][aid] = {
        "id": aid, "appRoleId": rid, "principalId": principal_id, "principalType": principal_type,
        "principalDisplayName": principal["displayName"], "resourceId": sp["id"],
        "resourceDisplayName": sp["displayName"], "createdDateTime": "2024-02-01T10:00:00Z",
    }
    return aid


def configure(tenant, *, url=NATOMA_URL, token=NATOMA_TOKEN, sync_all="false", role_mapping=True):
    """The tenant after the guide's steps 1-4: roles, group assignments, mapping, credentials, a job."""
    state = tenant.state
    app, sp = tenant.find_app(), tenant.find_sp()
    for value, display in ROLES.items():
        app["appRoles"].append({"allowedMemberTypes": ["User"], "description": display, "displayName": display,
                                "id": role_id(value), "isEnabled": True, "origin": "Application", "value": value})
    sp["appRoles"] = copy.deepcopy(app["appRoles"])
    for group, value in GROUP_ROLE.items():
        assign(state, sp, group_id(group), "Group", value)
    job_id = f"scim.{no_dashes(state['tenantId'])}.{no_dashes(sp['appId'])}"
    state["jobs"][sp["id"]] = {job_id: {
        "id": job_id, "templateId": "scim",
        "schedule": {"expiration": None, "interval": "PT40M", "state": "Active"},
        "status": {"code": "NotRun", "countSuccessiveCompleteFailures": 0, "escrowsPruned": False,
                   "lastExecution": None, "lastSuccessfulExecution": None,
                   "lastSuccessfulExecutionWithExports": None, "progress": [], "quarantine": None,
                   "steadyStateFirstAchievedTime": "0001-01-01T00:00:00Z",
                   "steadyStateLastAchievedTime": "0001-01-01T00:00:00Z", "synchronizedEntryCountByType": [],
                   "troubleshootingUrl": ""},
        "synchronizationJobSettings": []}}
    state["schemas"][job_id] = default_schema()
    if role_mapping:
        user_mappings(state, job_id).append(single_mapping())
    state["secrets"][sp["id"]] = [{"key": "BaseAddress", "value": url}, {"key": "SecretToken", "value": token},
                                  {"key": "SyncAll", "value": sync_all}]
    return sp["id"], job_id


@pytest.fixture
def tenant():
    return Tenant.initial()


@pytest.fixture
def ids(tenant):
    return configure(tenant)


def natoma_users(tenant):
    return {u["userName"]: u for u in standin_for(tenant).users()}


def logs_for(tenant, uid):
    return [r for r in tenant.state["provisioningLogs"] if r["sourceIdentity"]["id"] == uid]


def on_demand(tenant, ids, uid, rule_id=USER_RULE_ID):
    body = {"parameters": [{"ruleId": rule_id, "subjects": [{"objectId": uid, "objectTypeName": "User"}]}]}
    response = engine.provision_on_demand(tenant, *ids, body)
    return json.loads(response["key"]), json.loads(response["value"]), response


# -- scope -----------------------------------------------------------------------------------------------------------


def test_scope_assigned_only_excludes_nested_and_unassigned(tenant, ids):
    sp_id, _ = ids
    scope = engine.users_in_scope(tenant, sp_id)
    assert set(scope) == {ADELE, ALEX, MEGAN, LEE}
    assert PRADEEP not in scope  # only in "Natoma Contractors", nested in "Natoma Members"
    assert DIEGO not in scope
    assert [g.value for g in scope[ADELE]] == ["admin"]
    assert sorted(g.value for g in scope[LEE]) == ["admin", "member"]


def test_scope_sync_all_includes_everyone(tenant):
    sp_id, _ = configure(tenant, sync_all="true")
    scope = engine.users_in_scope(tenant, sp_id)
    assert set(scope) == set(tenant.state["users"])
    assert scope[DIEGO] == []


def test_grants_deduplicated_by_role(tenant, ids):
    sp_id, _ = ids
    sp = tenant.state["servicePrincipals"][sp_id]
    assign(tenant.state, sp, ADELE, "User", "admin")  # direct, same role as her group
    assert [g.value for g in engine.users_in_scope(tenant, sp_id)[ADELE]] == ["admin"]


def test_direct_user_assignment_is_in_scope(tenant, ids):
    sp_id, _ = ids
    assign(tenant.state, tenant.state["servicePrincipals"][sp_id], DIEGO, "User", "AppAdmin")
    assert [g.value for g in engine.users_in_scope(tenant, sp_id)[DIEGO]] == ["AppAdmin"]


# -- a full cycle ------------------------------------------------------------------------------------------------------


def test_cycle_provisions_each_user_with_exactly_one_role(tenant, ids):
    sp_id, job_id = ids
    engine.run_cycle(tenant, sp_id, job_id)
    users = natoma_users(tenant)
    expected = {UPN[ADELE]: "admin", UPN[ALEX]: "AppAdmin", UPN[MEGAN]: "member"}
    assert set(users) == set(expected)  # Lee failed, Diego and Pradeep are out of scope
    for upn, value in expected.items():
        u = users[upn]
        assert u["roles"] == [{"primary": True, "type": "WindowsAzureActiveDirectoryRole", "value": value}]
        assert u["active"] is True
        assert u["emails"][0]["value"] == upn and u["emails"][0]["type"] == "work"
    adele = users[UPN[ADELE]]
    assert adele["externalId"] == "AdeleV"  # default mapping: mailNickname -> externalId
    assert adele["name"] == {"givenName": "Adele", "familyName": "Vance", "formatted": "Adele Vance"}
    assert adele["displayName"] == "Adele Vance"

    status = tenant.state["jobs"][sp_id][job_id]["status"]
    assert status["code"] == "Active"
    assert status["quarantine"] is None
    last = status["lastExecution"]
    assert last["state"] == "EntryLevelErrors"  # Lee's failure
    assert last["countExported"] == 3 and last["countEscrowed"] == 1 and last["countEntitled"] == 4
    assert last["timeBegan"] <= last["timeEnded"]
    assert status["lastSuccessfulExecutionWithExports"]["countExported"] == 3
    assert status["synchronizedEntryCountByType"] == [{"key": "User", "value": 3}]

    records = tenant.state["provisioningLogs"]
    assert {r["sourceIdentity"]["id"] for r in records} == {ADELE, ALEX, MEGAN, LEE}
    [adele_log] = logs_for(tenant, ADELE)
    assert adele_log["provisioningAction"] == "create"
    assert adele_log["provisioningStatusInfo"] == {"status": "success", "errorInformation": None}
    assert {"displayName": "roles", "oldValue": None, "newValue": "admin"} in adele_log["modifiedProperties"]
    assert adele_log["targetIdentity"]["id"] == adele["id"]
    assert adele_log["initiatedBy"]["displayName"] == "Azure AD Provisioning Service"
    assert len({r["cycleId"] for r in records}) == 1


def test_two_role_groups_fail_with_multiple_grants_and_send_no_role(tenant, ids):
    engine.run_cycle(tenant, *ids)
    assert UPN[LEE] not in natoma_users(tenant)
    [record] = logs_for(tenant, LEE)
    info = record["provisioningStatusInfo"]
    assert info["status"] == "failure"
    assert info["errorInformation"]["errorCode"] == "MultipleGrantsNotSupported"
    assert "admin" in info["errorInformation"]["reason"] and "member" in info["errorInformation"]["reason"]
    assert info["errorInformation"]["errorCategory"] == "nonServiceFailure"
    assert record["provisioningAction"] == "other"
    assert {"displayName": "roles", "oldValue": None, "newValue": None} in record["modifiedProperties"]
    steps = {s["provisioningStepType"]: s for s in record["provisioningSteps"]}
    assert steps["processing"]["status"] == "failure"
    assert not any(s["provisioningStepType"] == "export" for s in record["provisioningSteps"])


def test_second_cycle_changes_nothing(tenant, ids):
    engine.run_cycle(tenant, *ids)
    before = natoma_users(tenant)
    n = len(tenant.state["provisioningLogs"])
    engine.run_cycle(tenant, *ids)
    assert natoma_users(tenant) == before
    second = tenant.state["provisioningLogs"][n:]
    by_user = {r["sourceIdentity"]["id"]: r for r in second}
    for uid in (ADELE, ALEX, MEGAN):
        info = by_user[uid]["provisioningStatusInfo"]
        assert info["status"] == "skipped"
        assert info["errorInformation"]["errorCode"] == "RedundantExport"
    status = tenant.state["jobs"][ids[0]][ids[1]]["status"]
    assert status["lastExecution"]["countExported"] == 0


def test_changed_group_updates_the_role(tenant, ids):
    engine.run_cycle(tenant, *ids)
    members = tenant.state["members"]
    members[group_id("Natoma Members")].remove(MEGAN)
    members[group_id("Natoma App Admins")].append(MEGAN)
    megan_id = natoma_users(tenant)[UPN[MEGAN]]["id"]
    engine.run_cycle(tenant, *ids)
    megan = natoma_users(tenant)[UPN[MEGAN]]
    assert megan["id"] == megan_id
    assert megan["roles"] == [{"primary": True, "type": "WindowsAzureActiveDirectoryRole", "value": "AppAdmin"}]
    record = logs_for(tenant, MEGAN)[-1]
    assert record["provisioningAction"] == "update"
    assert {"displayName": "roles", "oldValue": "member", "newValue": "AppAdmin"} in record["modifiedProperties"]


def test_fixing_the_two_groups_then_provisions(tenant, ids):
    engine.run_cycle(tenant, *ids)
    tenant.state["members"][group_id("Natoma Members")].remove(LEE)
    engine.run_cycle(tenant, *ids)
    assert natoma_users(tenant)[UPN[LEE]]["roles"][0]["value"] == "admin"


def test_unassigned_user_is_disabled_not_deleted(tenant, ids):
    engine.run_cycle(tenant, *ids)
    tenant.state["members"][group_id("Natoma App Admins")].remove(ALEX)
    engine.run_cycle(tenant, *ids)
    alex = natoma_users(tenant)[UPN[ALEX]]
    assert alex["active"] is False
    record = logs_for(tenant, ALEX)[-1]
    assert record["provisioningAction"] == "disable"
    assert record["provisioningStatusInfo"]["status"] == "success"
    # already disabled: a later cycle leaves Alex alone and logs nothing for him
    n = len(logs_for(tenant, ALEX))
    engine.run_cycle(tenant, *ids)
    assert len(logs_for(tenant, ALEX)) == n
    assert not logs_for(tenant, DIEGO)


def test_skip_out_of_scope_deletions(tenant, ids):
    engine.run_cycle(tenant, *ids)
    tenant.state["secrets"][ids[0]].append({"key": "SkipOutOfScopeDeletions", "value": "True"})
    tenant.state["members"][group_id("Natoma App Admins")].remove(ALEX)
    engine.run_cycle(tenant, *ids)
    assert natoma_users(tenant)[UPN[ALEX]]["active"] is True


def test_disabled_account_is_provisioned_inactive(tenant, ids):
    tenant.state["users"][ADELE]["accountEnabled"] = False
    engine.run_cycle(tenant, *ids)
    assert natoma_users(tenant)[UPN[ADELE]]["active"] is False


def test_default_access_only_gives_user_without_role(tenant, ids):
    sp = tenant.state["servicePrincipals"][ids[0]]
    assign(tenant.state, sp, DIEGO, "User", MSIAM_ACCESS_ROLE_ID)
    engine.run_cycle(tenant, *ids)
    diego = natoma_users(tenant)[UPN[DIEGO]]
    assert diego.get("roles") in (None, [])  # "user provisioned but role missing"
    [record] = logs_for(tenant, DIEGO)
    details = record["provisioningSteps"][0]["details"]
    assert details["appRoleAssignments"] == "msiam_access"


def test_without_role_mapping_users_have_no_role(tenant):
    ids = configure(tenant, role_mapping=False)
    engine.run_cycle(tenant, *ids)
    users = natoma_users(tenant)
    assert UPN[LEE] in users  # no SingleAppRoleAssignment, so no MultipleGrantsNotSupported
    assert all(not u.get("roles") for u in users.values())


def test_sync_all_provisions_unassigned_users_without_role(tenant):
    ids = configure(tenant, sync_all="true")
    engine.run_cycle(tenant, *ids)
    users = natoma_users(tenant)
    assert UPN[DIEGO] in users and not users[UPN[DIEGO]].get("roles")
    assert users[UPN[PRADEEP]].get("roles") in (None, [])


def test_natoma_users_survive_a_reload_with_stable_ids(tenant, ids):
    engine.run_cycle(tenant, *ids)
    before = {u: v["id"] for u, v in natoma_users(tenant).items()}
    reloaded = Tenant(json.loads(json.dumps(tenant.state)))
    assert {u: v["id"] for u, v in natoma_users(reloaded).items()} == before
    n = len(reloaded.state["provisioningLogs"])
    engine.run_cycle(reloaded, *ids)
    statuses = {r["provisioningStatusInfo"]["status"] for r in reloaded.state["provisioningLogs"][n:]
                if r["sourceIdentity"]["id"] != LEE}
    assert statuses == {"skipped"}


# -- complex role mappings ------------------------------------------------------------------------------------------


def test_assertive_complex_mapping_sends_several_roles_and_removes(tenant, ids):
    use_complex(tenant.state, ids[1])
    engine.run_cycle(tenant, *ids)
    lee = natoma_users(tenant)[UPN[LEE]]
    assert sorted(r["value"] for r in lee["roles"]) == ["admin", "member"]
    assert all(r["primary"] is False for r in lee["roles"])
    assert natoma_users(tenant)[UPN[ADELE]]["roles"][0]["value"] == "admin"
    tenant.state["members"][group_id("Natoma Members")].remove(LEE)
    engine.run_cycle(tenant, *ids)
    assert [r["value"] for r in natoma_users(tenant)[UPN[LEE]]["roles"]] == ["admin"]


def test_add_only_complex_mapping_keeps_removed_roles(tenant, ids):
    use_complex(tenant.state, ids[1], function="AppRoleAssignmentsComplex")
    engine.run_cycle(tenant, *ids)
    tenant.state["members"][group_id("Natoma Members")].remove(LEE)
    tenant.state["members"][group_id("Natoma App Admins")].append(LEE)
    engine.run_cycle(tenant, *ids)
    assert sorted(r["value"] for r in natoma_users(tenant)[UPN[LEE]]["roles"]) == ["AppAdmin", "admin", "member"]


def test_mapping_to_undefined_target_fails(tenant, ids):
    use_complex(tenant.state, ids[1], define_roles=False)
    engine.run_cycle(tenant, *ids)
    assert natoma_users(tenant) == {}
    codes = {r["provisioningStatusInfo"]["errorInformation"]["errorCode"] for r in tenant.state["provisioningLogs"]}
    assert codes == {"SchemaAttributeNotFound"}


def test_unknown_function_is_logged_failure(tenant, ids):
    mappings = user_mappings(tenant.state, ids[1])
    mappings[-1]["source"]["name"] = "FancyRoles"
    engine.run_cycle(tenant, *ids)
    [record] = logs_for(tenant, ADELE)
    assert record["provisioningStatusInfo"]["errorInformation"]["errorCode"] == "SandboxFunctionNotImplemented"


# -- quarantine --------------------------------------------------------------------------------------------------------


def test_wrong_token_quarantines(tenant):
    ids = configure(tenant, token="not-the-token")
    engine.run_cycle(tenant, *ids)
    status = tenant.state["jobs"][ids[0]][ids[1]]["status"]
    assert status["code"] == "Quarantine"
    q = status["quarantine"]
    assert q["reason"] == "EncounteredQuarantineException"
    assert "401 Unauthorized" in q["error"]["message"]
    assert q["currentBegan"] < q["nextAttempt"] and q["seriesCount"] == 1
    assert status["lastExecution"]["state"] == "Failed"
    assert status["countSuccessiveCompleteFailures"] == 1
    assert natoma_users(tenant) == {}
    assert tenant.state["provisioningLogs"] == []
    engine.run_cycle(tenant, *ids)
    status = tenant.state["jobs"][ids[0]][ids[1]]["status"]
    assert status["quarantine"]["seriesCount"] == 2 and status["countSuccessiveCompleteFailures"] == 2
    assert status["quarantine"]["seriesBegan"] == q["seriesBegan"]
    # fixed token: the next cycle clears the quarantine
    tenant.state["secrets"][ids[0]][1]["value"] = NATOMA_TOKEN
    engine.run_cycle(tenant, *ids)
    status = tenant.state["jobs"][ids[0]][ids[1]]["status"]
    assert status["code"] == "Active" and status["quarantine"] is None
    assert status["countSuccessiveCompleteFailures"] == 0


def test_unreachable_url_quarantines(tenant):
    ids = configure(tenant, url="https://example.natoma.app/scim/v2")
    engine.run_cycle(tenant, *ids)
    status = tenant.state["jobs"][ids[0]][ids[1]]["status"]
    assert status["code"] == "Quarantine"
    assert "name resolution failed for host example.natoma.app" in status["quarantine"]["error"]["message"]


# -- provision on demand -------------------------------------------------------------------------------------------


def test_on_demand_creates_with_role(tenant, ids):
    key, value, raw = on_demand(tenant, ids, ADELE)
    assert set(raw) >= {"key", "value"}
    assert key == {"result": "Success", "details": {}}
    assert value["action"] == "Create"
    assert value["statusInfo"]["status"] == "Success"
    assert value["sourceIdentity"]["id"] == ADELE
    assert value["targetSystem"]["name"] == "customappsso"
    assert {"displayName": "roles", "oldValue": None, "newValue": "admin"} in value["modifiedProperties"]
    assert [s["type"] for s in value["provisioningSteps"]] == ["Import", "Scoping", "Matching", "Export"]
    adele = natoma_users(tenant)[UPN[ADELE]]
    assert adele["roles"][0]["value"] == "admin"
    assert value["targetIdentity"]["id"] == adele["id"]
    [record] = logs_for(tenant, ADELE)
    assert record["initiatedBy"]["displayName"] == "Provision on demand"
    assert record["provisioningAction"] == "create"
    # only Adele: on demand is one user
    assert list(natoma_users(tenant)) == [UPN[ADELE]]
    # again: nothing to do
    key, value, _ = on_demand(tenant, ids, ADELE)
    assert key["result"] == "Skipped" and key["details"]["errorCode"] == "RedundantExport"
    assert value["action"] == "Other"


@pytest.mark.parametrize("uid", [DIEGO, PRADEEP])
def test_on_demand_unassigned_or_nested_is_skipped(tenant, ids, uid):
    key, value, _ = on_demand(tenant, ids, uid)
    assert key["result"] == "Skipped"
    assert key["details"]["errorCode"] == "NotEffectivelyEntitled"
    assert value["statusInfo"]["errorCode"] == "NotEffectivelyEntitled"
    assert natoma_users(tenant) == {}
    [record] = logs_for(tenant, uid)
    assert record["provisioningStatusInfo"]["status"] == "skipped"
    assert record["provisioningStatusInfo"]["errorInformation"]["errorCode"] == "NotEffectivelyEntitled"
    scoping = [s for s in record["provisioningSteps"] if s["provisioningStepType"] == "scoping"][0]
    assert scoping["details"]["Assigned"] == "False"


def test_on_demand_two_roles_fails(tenant, ids):
    key, value, _ = on_demand(tenant, ids, LEE)
    assert key["result"] == "Failure"
    assert key["details"]["errorCode"] == "MultipleGrantsNotSupported"
    assert value["statusInfo"]["status"] == "Failure"
    assert natoma_users(tenant) == {}
    assert logs_for(tenant, LEE)[0]["provisioningStatusInfo"]["errorInformation"]["errorCode"] == "MultipleGrantsNotSupported"


def test_on_demand_wrong_token_fails(tenant):
    ids = configure(tenant, token="nope")
    key, value, _ = on_demand(tenant, ids, ADELE)
    assert key["result"] == "Failure" and key["details"]["errorCode"] == "Unauthorized"
    assert "401" in value["statusInfo"]["reason"]
    assert natoma_users(tenant) == {}


@pytest.mark.parametrize(
    "body",
    [
        {"parameters": [{"ruleId": "not-a-rule", "subjects": [{"objectId": ADELE, "objectTypeName": "User"}]}]},
        {"parameters": [{"ruleId": USER_RULE_ID, "subjects": [{"objectId": det_id("user", "nobody"), "objectTypeName": "User"}]}]},
        {"parameters": [{"ruleId": USER_RULE_ID, "subjects": [{"objectId": group_id("Natoma Admins"), "objectTypeName": "Group"}]}]},
        {"parameters": [{"ruleId": USER_RULE_ID, "subjects": []}]},
        {"parameters": []},
        {},
    ],
)
def test_on_demand_bad_request(tenant, ids, body):
    with pytest.raises(GraphFault) as err:
        engine.provision_on_demand(tenant, *ids, body)
    assert err.value.status == 400
    assert tenant.state["provisioningLogs"] == []


def test_on_demand_unknown_job_is_404(tenant, ids):
    with pytest.raises(GraphFault) as err:
        on_demand(tenant, (ids[0], "scim.nope"), ADELE)
    assert err.value.status == 404


def test_log_record_shape(tenant, ids):
    engine.run_cycle(tenant, *ids)
    on_demand(tenant, ids, DIEGO)
    json.dumps(tenant.state)  # JSON-serialisable
    keys = {"id", "activityDateTime", "tenantId", "jobId", "cycleId", "changeId", "provisioningAction",
            "durationInMilliseconds", "initiatedBy", "servicePrincipal", "sourceSystem", "targetSystem",
            "sourceIdentity", "targetIdentity", "provisioningStatusInfo", "provisioningSteps", "modifiedProperties"}
    for r in tenant.state["provisioningLogs"]:
        assert keys <= set(r)
        assert r["jobId"] == ids[1]
        assert r["servicePrincipal"] == {"id": ids[0], "displayName": "Natoma"}
        assert r["sourceSystem"]["displayName"] == "Azure Active Directory"
        assert r["targetSystem"]["displayName"] == "customappsso"
        assert r["sourceIdentity"]["identityType"] == "User"
        assert r["provisioningStatusInfo"]["status"] in {"success", "failure", "skipped"}
        assert r["activityDateTime"].endswith("Z")
        for s in r["provisioningSteps"]:
            assert s["provisioningStepType"] in {"import", "scoping", "matching", "processing", "export"}
            assert s["status"] in {"success", "failure", "skipped"}


# -- validateCredentials -------------------------------------------------------------------------------------------


def test_validate_credentials_ok(tenant):
    assert engine.validate_credentials(tenant, {"BaseAddress": NATOMA_URL, "SecretToken": NATOMA_TOKEN}) is None
    loopback = {"BaseAddress": "http://127.0.0.1:8765/scim/v2", "SecretToken": NATOMA_TOKEN}
    assert engine.validate_credentials(tenant, loopback) is None
    assert standin_for(tenant).users() == []  # the test queries, it does not create


@pytest.mark.parametrize(
    "credentials,expected",
    [
        ({"BaseAddress": NATOMA_URL, "SecretToken": "wrong"}, "401 Unauthorized"),
        ({"BaseAddress": NATOMA_URL, "SecretToken": ""}, "invalid credentials"),
        ({"BaseAddress": NATOMA_URL}, "401"),
        ({"BaseAddress": "https://example.natoma.app/scim/v2", "SecretToken": NATOMA_TOKEN},
         "name resolution failed for host example.natoma.app"),
        ({"BaseAddress": "http://natoma.sandbox.test/scim/v2", "SecretToken": NATOMA_TOKEN}, "https://"),
        ({"BaseAddress": "natoma.sandbox.test/scim/v2", "SecretToken": NATOMA_TOKEN}, "not an absolute URL"),
        ({"BaseAddress": "", "SecretToken": NATOMA_TOKEN}, "empty"),
        ({"BaseAddress": "http://127.0.0.1:8765/v1.0", "SecretToken": NATOMA_TOKEN}, "connection refused"),
        ({"BaseAddress": "https://natoma.sandbox.test/scim", "SecretToken": NATOMA_TOKEN}, "Could not connect"),
    ],
)
def test_validate_credentials_failures(tenant, credentials, expected):
    reason = engine.validate_credentials(tenant, credentials)
    assert reason is not None and expected in reason


# -- a cycle that takes simulated time ---------------------------------------------------------------------------------

def test_a_cycle_reveals_its_progress_over_simulated_time():
    from natoma_entra.sandbox.options import SimulatedClock

    clock = SimulatedClock()
    tenant = Tenant.initial(clock=clock.monotonic, now=clock.now)
    tenant.cycle_seconds_per_user = 2.0
    sp_id, job_id = configure(tenant)
    engine.run_cycle(tenant, sp_id, job_id)
    job = tenant.state["jobs"][sp_id][job_id]
    # Natoma is written at once; the status shows the cycle running: 4 users in scope, 8 simulated seconds
    assert len(natoma_users(tenant)) == 3
    assert job["status"]["code"] == "Active" and job["status"]["lastExecution"] is None
    assert job["status"]["progress"][0]["completedUnits"] == 0 and job["status"]["progress"][0]["totalUnits"] == 4
    clock.advance(4)
    engine.advance_cycles(tenant, sp_id)
    assert job["status"]["progress"][0]["completedUnits"] == 2
    assert job["status"]["lastExecution"] is None
    clock.advance(4)
    engine.advance_cycles(tenant, sp_id)
    status = job["status"]
    assert status["lastExecution"]["state"] == "EntryLevelErrors"  # Lee Gu: two role groups
    assert status["lastExecution"]["timeEnded"].startswith("2026-01-05T09:00:08")
    assert status["synchronizedEntryCountByType"] == [{"key": "User", "value": 3}]
    assert status["progress"] == []
    assert job_id not in tenant.state.get("cycles", {})  # the cycle is over: nothing left to reveal


def test_a_cycle_without_simulated_time_ends_at_once(tenant, ids):
    engine.run_cycle(tenant, *ids)
    status = tenant.state["jobs"][ids[0]][ids[1]]["status"]
    assert status["lastExecution"]["state"] == "EntryLevelErrors" and status["progress"] == []


@pytest.mark.parametrize("holds_users", [False, True])
@pytest.mark.parametrize("token", [NATOMA_TOKEN, "not-the-token", "", None, "Bearer " + NATOMA_TOKEN])
def test_the_engines_connection_probe_answers_as_the_scim_server_does(token, holds_users):
    """engine._connect reads the Test Connection answer from natoma.probe_answer without building scim2-server; the
    stand-in's own SCIM server, asked the same probe, answers the same status, whatever it holds and whatever token."""
    from natoma_entra.sandbox.natoma import NatomaStandIn, probe_answer

    standin = NatomaStandIn()
    if holds_users:
        standin.put_user("AdeleV@contoso.onmicrosoft.com", ["admin"], active=True)
    with standin.client(token) as http:
        for resource in ("Users", "Groups"):
            answer = http.get(f"/{resource}", params={"filter": 'userName eq "f1e2d3c4-natoma-entra-probe"'
                                                      if resource == "Users" else 'displayName eq "f1e2d3c4"'})
            assert answer.status_code == probe_answer(token, standin.token)
            if answer.status_code == 200:
                assert answer.json()["totalResults"] == 0


def test_a_stand_in_given_another_token_is_what_the_connection_test_checks():
    tenant = Tenant.initial()
    standin = standin_for(tenant)
    standin.token = "another-scim-token"
    assert engine.validate_credentials(tenant, {"BaseAddress": NATOMA_URL, "SecretToken": "another-scim-token"}) is None
    assert "401" in (engine.validate_credentials(tenant, {"BaseAddress": NATOMA_URL, "SecretToken": NATOMA_TOKEN}) or "")
    with standin.client(NATOMA_TOKEN) as http:
        assert http.get("/Users").status_code == 401
