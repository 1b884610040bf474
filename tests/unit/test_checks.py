"""The pure checks (natoma_entra/doctor/checks.py) over hand-built DoctorStates: no Graph, no sandbox."""
from __future__ import annotations

import copy

from natoma_entra.doctor.checks import (DEFAULT_ACCESS, ConfiguredGroup, DoctorState, ReadError, check_credentials,
                                 check_groups, check_job, check_mapping, check_multiple, check_nested,
                                 check_role_missing, check_roles, check_user, checks, mapping_mode)
from natoma_entra.steps.mapping import MULTI, SINGLE, role_mapping
from natoma_entra.steps.roles import desired_role

APP_ID = "11111111-2222-3333-4444-555555555555"
MSIAM = "b9632174-c057-4f7e-951b-be3adc52bfe6"
ROLES = [desired_role(APP_ID, d, v) for d, v in (("Admin", "admin"), ("AppAdmin", "AppAdmin"), ("Member", "member"))]
RID = {r["value"]: r["id"] for r in ROLES}
TEMPLATE_ROLES = [{"id": MSIAM, "displayName": "msiam_access", "value": None, "isEnabled": True,
                   "allowedMemberTypes": ["User"]}]


def user(name):
    return {"@odata.type": "#microsoft.graph.user", "id": f"u-{name}", "displayName": name,
            "userPrincipalName": f"{name.lower()}@contoso.test"}


def group(name, security=True, m365=False):
    return {"@odata.type": "#microsoft.graph.group", "id": f"g-{name}", "displayName": name,
            "securityEnabled": security, "groupTypes": ["Unified"] if m365 else []}


def assign(principal, role_id, kind="Group"):
    return {"id": f"a-{principal['id']}-{role_id}", "principalId": principal["id"], "principalType": kind,
            "principalDisplayName": principal["displayName"], "appRoleId": role_id}


def schema(mapping=None):
    mappings = [{"targetAttributeName": "userName", "source": {"type": "Attribute", "name": "userPrincipalName"}}]
    if mapping is not None:
        mappings.append(mapping)
    return {"synchronizationRules": [{"id": "rule-1", "name": "USER", "targetDirectoryName": "customappsso",
                                      "objectMappings": [{"name": "Provision Users", "sourceObjectName": "User",
                                                          "targetObjectName": "urn:User",
                                                          "attributeMappings": mappings}]}],
            "directories": [{"name": "customappsso", "objects": [{"name": "urn:User", "attributes": [
                {"name": "userName"}, {"name": 'roles[primary eq "True"].value'}, {"name": "roles",
                                                                                   "multivalued": True}]}]}]}


ADMINS, MEMBERS, CONTRACTORS = group("Admins"), group("Members"), group("Contractors")
ADELE, LEE, PRADEEP, MEGAN = user("Adele"), user("Lee"), user("Pradeep"), user("Megan")


def good_state(**over) -> DoctorState:
    s = DoctorState(
        app={"displayName": "Natoma", "appId": APP_ID, "servicePrincipalId": "sp", "applicationId": "app"},
        app_roles=TEMPLATE_ROLES + copy.deepcopy(ROLES), sp_roles=TEMPLATE_ROLES + copy.deepcopy(ROLES),
        config_url="https://n.test/scim/v2",
        configured=[ConfiguredGroup("admin", "Admins", ADMINS), ConfiguredGroup("member", "Members", MEMBERS)],
        assignments=[assign(ADMINS, RID["admin"]), assign(MEMBERS, RID["member"])],
        groups={g["id"]: g for g in (ADMINS, MEMBERS)},
        members={ADMINS["id"]: [ADELE], MEMBERS["id"]: [MEGAN]},
        job={"id": "scim.1", "schedule": {"state": "Active", "interval": "PT40M"},
             "status": {"code": "Active", "lastExecution": {"state": "Succeeded"}}},
        schema=schema(role_mapping(SINGLE.function, SINGLE.target)),
        secrets={"BaseAddress": "https://n.test/scim/v2", "SecretToken": "*", "SyncAll": "false"},
        connection_test="passed",
    )
    for k, v in over.items():
        setattr(s, k, v)
    return s


def test_a_good_state_is_all_ok():
    results = checks(good_state())
    assert [(c.name, c.verdict) for c in results] == [
        ("app", "ok"), ("roles", "ok"), ("role-missing", "ok"), ("groups-assigned", "ok"),
        ("multiple-grants", "ok"), ("nested-only", "ok"), ("mapping", "ok"), ("credentials", "ok"), ("job", "ok")]


def test_no_app_is_one_failing_check():
    s = DoctorState(errors={"app": ReadError("the app", "no enterprise app named 'X'", "pass --app ...")})
    (only,) = checks(s)
    assert only.name == "app" and only.verdict == "fail" and only.fix == "pass --app ..."


def test_roles_missing_on_the_app_or_not_on_the_sp():
    r = check_roles(good_state(app_roles=TEMPLATE_ROLES, sp_roles=TEMPLATE_ROLES))
    assert r.verdict == "fail" and r.fix == "natoma-entra roles"
    disabled = copy.deepcopy(ROLES)
    disabled[0]["isEnabled"] = False
    r = check_roles(good_state(app_roles=disabled))
    assert r.verdict == "fail" and "isEnabled false -> true" in r.details[0]
    r = check_roles(good_state(sp_roles=TEMPLATE_ROLES))
    assert r.verdict == "fail" and "service principal" in r.summary and "natoma-entra roles" in r.fix


def test_role_missing_default_access_and_valueless_roles():
    s = good_state(assignments=[assign(ADMINS, RID["admin"]), assign(MEMBERS, DEFAULT_ACCESS),
                                assign(ADELE, MSIAM, "User")])
    r = check_role_missing(s)
    assert r.verdict == "fail"
    assert "Group 'Members' is assigned with default access: its 1 direct member gets no Natoma role" in r.details
    assert "User 'Adele' is assigned with msiam_access" in r.details
    assert {a["role"] for a in r.data["assignments"]} == {"default access", "msiam_access"}
    assert "assign --replace" in r.fix


def test_role_missing_warns_on_a_role_natoma_does_not_know():
    reader = {"id": "reader", "value": "Reader", "displayName": "Reader", "isEnabled": True}
    s = good_state(sp_roles=good_state().sp_roles + [reader],
                   assignments=good_state().assignments + [assign(CONTRACTORS, "reader")])
    r = check_role_missing(s)
    assert r.verdict == "warn" and "'Reader'" in r.details[0]


def test_groups_not_assigned_wrong_role_and_non_security():
    s = good_state(assignments=[assign(ADMINS, RID["member"])])
    r = check_groups(s)
    assert r.verdict == "fail"
    assert r.details == ["'Admins' should hold Admin but holds member",
                         "'Members' is not assigned to the app (its members are skipped)"]
    assert "natoma-entra assign --replace" in r.fix and "natoma-entra assign" in r.fix
    m365 = group("Everyone", security=False, m365=True)
    s = good_state(assignments=good_state().assignments + [assign(m365, RID["member"])],
                   groups={**good_state().groups, m365["id"]: m365})
    r = check_groups(s)
    assert r.verdict == "warn" and "'Everyone' is assigned but is a Microsoft 365 group" in r.details
    s = good_state(configured=[ConfiguredGroup("admin", "Nope", None, ReadError("group 'Nope'", "no group named "
                                                                                "'Nope'", "use the exact name"))])
    r = check_groups(s)
    assert r.verdict == "fail" and "use the exact name" in r.fix


def test_two_groups_with_two_roles_is_multiple_grants_unless_multi_role():
    s = good_state(members={ADMINS["id"]: [ADELE, LEE], MEMBERS["id"]: [MEGAN, LEE]})
    r = check_multiple(s)
    assert r.verdict == "fail" and "MultipleGrantsNotSupported" in r.summary
    assert r.details == ["Lee (lee@contoso.test): Admin via Admins, Member via Members"]
    assert "--multi-role" in r.fix
    s.schema = schema(role_mapping(MULTI.function, MULTI.target))
    assert mapping_mode(s.schema) == "multi-role"
    assert check_multiple(s).verdict == "ok"


def test_direct_assignment_plus_group_with_another_role_is_multiple_grants():
    s = good_state(assignments=good_state().assignments + [assign(MEGAN, RID["admin"], "User")])
    r = check_multiple(s)
    assert r.verdict == "fail" and "Megan" in r.details[0] and "via direct" in r.details[0]


def test_same_role_from_two_groups_is_not_multiple_grants():
    other = group("Admins 2")
    s = good_state(assignments=good_state().assignments + [assign(other, RID["admin"])],
                   members={ADMINS["id"]: [ADELE], MEMBERS["id"]: [MEGAN], other["id"]: [ADELE]})
    assert check_multiple(s).verdict == "ok"


def test_many_users_are_counted_not_all_listed():
    many = [user(f"U{i}") for i in range(50)]
    s = good_state(members={ADMINS["id"]: many, MEMBERS["id"]: many})
    r = check_multiple(s)
    assert r.verdict == "fail" and r.summary.startswith("50 users")
    assert r.details[-1] == "... and 30 more (-o json for all)" and len(r.data["users"]) == 50


def test_nested_only_users_are_warned_by_name():
    s = good_state(members={ADMINS["id"]: [ADELE], MEMBERS["id"]: [MEGAN, CONTRACTORS]},
                   nested={CONTRACTORS["id"]: [PRADEEP, MEGAN]}, nested_in={CONTRACTORS["id"]: [MEMBERS["id"]]})
    s.groups[CONTRACTORS["id"]] = CONTRACTORS
    r = check_nested(s)
    assert r.verdict == "warn"
    assert r.details == ["Pradeep (pradeep@contoso.test): only via Contractors (in Members)"]  # Megan is direct
    assert "directly" in r.fix


def test_mapping_missing_wrong_or_no_job():
    assert check_mapping(good_state(job=None)).fix.startswith("natoma-entra mapping")
    r = check_mapping(good_state(schema=schema()))
    assert r.verdict == "fail" and r.fix == "natoma-entra mapping"
    assert any(line.startswith("missing: user mapping SingleAppRoleAssignment") for line in r.details)
    r = check_mapping(good_state(schema={"synchronizationRules": [], "directories": []}))
    assert r.verdict == "fail" and "sourceObjectName" in r.summary
    r = check_mapping(good_state(schema=schema(role_mapping(MULTI.function, MULTI.target))))
    assert r.verdict == "ok" and r.data["mode"] == "multi-role"


def test_credentials_missing_sync_all_and_failed_test():
    r = check_credentials(good_state(secrets={}, connection_test=None))
    assert r.verdict == "fail" and "natoma-entra credentials" in r.fix
    r = check_credentials(good_state(secrets={**good_state().secrets, "SyncAll": "true"}))
    assert r.verdict == "fail" and "Sync All" in r.summary and "start --restart" in r.fix
    r = check_credentials(good_state(connection_test="401 Unauthorized from the SCIM endpoint"))
    assert r.verdict == "fail" and "401" in r.summary and "credentials --rotate" in r.fix
    r = check_credentials(good_state(secrets={**good_state().secrets, "BaseAddress": "https://old.test/scim"}))
    assert r.verdict == "warn" and "old.test" in r.summary


def test_job_quarantine_not_running_and_entry_level_errors():
    q = good_state().job | {"status": {"code": "Quarantine", "quarantine": {
        "reason": "EncounteredQuarantineException", "error": {"code": "Unauthorized", "message": "401 from SCIM"}}}}
    r = check_job(good_state(job=q))
    assert r.verdict == "fail" and r.summary == "the job is in quarantine: EncounteredQuarantineException: 401 from SCIM"
    assert "natoma-entra start --restart" in r.fix
    paused = good_state().job | {"schedule": {"state": "Paused"}, "status": {"code": "Paused"}}
    assert check_job(good_state(job=paused)).fix == "natoma-entra start"
    errs = good_state().job | {"status": {"code": "Active", "lastExecution": {"state": "EntryLevelErrors"}}}
    r = check_job(good_state(job=errs))
    assert r.verdict == "warn" and "natoma-entra logs --errors" in r.fix
    r = check_job(good_state())
    assert r.verdict == "ok" and any("natoma-entra provision USER" in d for d in r.details)


def test_read_errors_become_failing_checks_with_graphs_fix():
    err = ReadError("the app's assignments", "Graph GET ... failed (403 Authorization_RequestDenied)",
                    "grant the Microsoft Graph permission AppRoleAssignment.ReadWrite.All")
    s = good_state(errors={"assignments": err}, assignments=None)
    for c in (check_role_missing(s), check_groups(s), check_multiple(s), check_nested(s)):
        assert c.verdict == "fail" and c.fix == err.fix


def test_user_check():
    s = good_state(members={ADMINS["id"]: [ADELE, LEE], MEMBERS["id"]: [MEGAN, LEE]}, user_ref="lee", user=LEE,
                   user_groups=[ADMINS, MEMBERS])
    r = check_user(s)
    assert r.verdict == "fail" and "MultipleGrantsNotSupported" in r.summary
    s = good_state(user_ref="adele", user=ADELE, user_groups=[ADMINS])
    r = check_user(s)
    assert r.verdict == "ok" and r.summary.endswith("is provisioned as admin")
    s = good_state(user_ref="p", user=PRADEEP, user_groups=[CONTRACTORS], nested={CONTRACTORS["id"]: [PRADEEP]})
    s.groups[CONTRACTORS["id"]] = CONTRACTORS
    assert "nested" in check_user(s).summary
    s = good_state(user_ref="nobody", errors={"user": ReadError("user", "no user 'nobody'", "give the UPN")})
    assert check_user(s).verdict == "fail"
