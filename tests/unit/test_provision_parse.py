"""The provisionOnDemand answer, read defensively (synchronization-synchronizationjob-provisionondemand.md): both known shapes and the edge cases."""
from __future__ import annotations

import json

import pytest

from natoma_entra.steps.provision import (FIX_MULTIPLE_GRANTS, FIX_NOT_ASSIGNED, STATUS_INFO_KEY, fix_for,
                                          parse_response, request_body)

# Graph docs synchronization-synchronizationjob-provisionondemand.md, example 1, verbatim.
DOC_EXAMPLE_1 = {
    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.stringKeyStringValuePair",
    "key": "{\"result\":\"Skipped\",\"details\":{\"errorCode\":\"RedundantExport\",\"errorMessage\":\"The state of the user in both the source and target systems already match.\"}}",
    "value": "{\"action\":\"Other\",\"changeId\":\"g8ba3be8-1d7f-4a60-ae31-a8980da0a389\",\"endTime\":\"2020-06-26T13:58:24.7682084Z\",\"modifiedProperties\":[{\"displayName\":\"objectId\",\"oldValue\":null,\"newValue\":\"52cf7b7a-52be-4a9b-9c69-e4d4a4a14f76\"},{\"displayName\":\"accountEnabled\",\"oldValue\":null,\"newValue\":\"True\"},{\"displayName\":\"displayName\",\"oldValue\":null,\"newValue\":\"Bill Bob\"},{\"displayName\":\"mailNickname\",\"oldValue\":null,\"newValue\":\"Bill\"},{\"displayName\":\"userPrincipalName\",\"oldValue\":null,\"newValue\":\"BillBob@contoso.com\"},{\"displayName\":\"IsSoftDeleted\",\"oldValue\":null,\"newValue\":\"False\"},{\"displayName\":\"appRoleAssignments\",\"oldValue\":null,\"newValue\":\"User\"}],\"provisioningSteps\":[{\"name\":\"EntryImport\",\"type\":\"Import\",\"status\":\"Success\",\"description\":\"Retrieved User 'BillBob@contoso.com' from Azure Active Directory\",\"timestamp\":\"2020-06-26T13:58:24.5494971Z\",\"details\":{\"objectId\":\"52cf7b7a-52be-4a9b-9c69-e4d4a4a14f76\",\"accountEnabled\":\"True\",\"displayName\":\"Fill Bob\",\"mailNickname\":\"Bill\",\"userPrincipalName\":\"BillBob@contoso.com\",\"IsSoftDeleted\":\"False\",\"appRoleAssignments\":\"User\"}},{\"name\":\"EntryImport\",\"type\":\"Matching\",\"status\":\"Success\",\"description\":\"Retrieved  'BillBob@contoso.com' from customappsso\",\"timestamp\":\"2020-06-26T13:58:24.7214072Z\",\"details\":{\"active\":\"True\",\"displayName\":\"Bill Bob\",\"externalId\":\"Bill\",\"id\":\"52507a19-96ec-4e73-9250-3e65ffd2d926\",\"userName\":\"BillBob@contoso.com\"}},{\"name\":\"EntrySynchronizationScoping\",\"type\":\"Scoping\",\"status\":\"Success\",\"description\":\"Determine if User in scope by evaluating against each scoping filter\",\"timestamp\":\"2020-06-26T13:58:24.7526181Z\",\"details\":{\"IsActive\":\"True\",\"Assigned\":\"True\",\"IsEffectivelyEntitledForProvisioning\":\"True\",\"IsInProvisioningScopeDisplayName\":\"True\",\"ScopeEvaluationResult\":\"{}\"}},{\"name\":\"EntrySynchronizationSkip\",\"type\":\"Export\",\"status\":\"Skipped\",\"description\":\"The state of the user in both the source and target systems already match. No change to the User 'BillBob@contoso.com' currently needs to be made.\",\"timestamp\":\"2020-06-26T13:58:24.7682084Z\",\"details\":{\"SkipReason\":\"RedundantExport\"}}],\"reportableIdentifier\":\"BillBob@contoso.com\",\"startTime\":\"2020-06-26T13:58:24.5494971Z\",\"statusInfo\":{\"status\":\"Skipped\",\"errorCode\":null,\"reason\":null,\"additionalDetails\":null,\"errorCategory\":null,\"recommendedAction\":null},\"sourceIdentity\":{\"id\":\"62cf7b7a-52be-4a9b-9c69-e5d4a4a14f67\",\"type\":\"User\",\"displayName\":null,\"details\":null},\"sourceSystem\":{\"id\":null,\"name\":\"Azure Active Directory\",\"details\":null},\"targetIdentity\":{\"id\":\"52507a19-96ec-4e73-9250-3e65ffd2d926\",\"type\":\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\",\"displayName\":null,\"details\":null},\"targetSystem\":{\"id\":null,\"name\":\"customappsso\",\"details\":null}}",
}


def shape1(result, code=None, message=None, record=None) -> dict:
    details = {} if code is None else {"errorCode": code, "errorMessage": message}
    return {"key": json.dumps({"result": result, "details": details}), "value": json.dumps(record or {})}


def export_record(status="Success", role="admin", action="Create", step_status="Success", extra_steps=()):
    return {
        "action": action,
        "modifiedProperties": [{"displayName": "appRoleAssignments", "oldValue": None, "newValue": "admin"}],
        "provisioningSteps": [
            {"name": "EntryImport", "type": "Import", "status": "Success", "description": "Retrieved User",
             "details": {"appRoleAssignments": "admin"}},
            *extra_steps,
            {"name": "EntryExportAdd", "type": "Export", "status": step_status, "description": "User was created",
             "details": {'roles[primary eq "True"].value': role} if role else {}},
        ],
        "statusInfo": {"status": status},
    }


# -- shape 1 (the Graph docs example) ---------------------------------------------------------------------------------

def test_doc_example_is_already_in_sync():
    v = parse_response(DOC_EXAMPLE_1)
    assert (v.result, v.outcome, v.error_code) == ("Skipped", "in_sync", "RedundantExport")
    assert v.ok
    assert v.error_message.startswith("The state of the user in both")
    assert v.action == "Other"
    assert v.assigned == "User"
    assert v.role == "User" and v.role_source == "assignment"  # nothing was sent: the assignment is the role
    assert [m["displayName"] for m in v.modified][-1] == "appRoleAssignments"
    assert [s["name"] for s in v.steps] == ["EntryImport", "EntryImport", "EntrySynchronizationScoping",
                                            "EntrySynchronizationSkip"]
    assert not v.problems


def test_success_reads_the_role_from_the_export_step():
    v = parse_response(shape1("Success", record=export_record(role="AppAdmin")))
    assert (v.outcome, v.role, v.role_source) == ("provisioned", "AppAdmin", "export")
    assert v.ok and fix_for(v) is None


def test_success_reads_the_role_from_modified_properties_first():
    rec = export_record(role=None)
    rec["modifiedProperties"].append({"displayName": "roles", "oldValue": None, "newValue": "member"})
    v = parse_response(shape1("Success", record=rec))
    assert (v.role, v.role_source) == ("member", "modifiedProperties")


def test_success_with_no_role_anywhere_falls_back_to_the_assignment_label():
    rec = export_record(role=None)
    rec["modifiedProperties"] = [{"displayName": "appRoleAssignments", "oldValue": None, "newValue": "Admin"}]
    rec["provisioningSteps"][0]["details"] = {}
    v = parse_response(shape1("Success", record=rec))
    assert (v.role, v.role_source) == ("admin", "assignment")  # the display name mapped to Natoma's value


def test_multiple_grants_is_a_failure_with_the_fix():
    v = parse_response(shape1("Failure", "MultipleGrantsNotSupported", "more than one app role assignment"))
    assert (v.result, v.outcome, v.error_code) == ("Failure", "failed", "MultipleGrantsNotSupported")
    assert not v.ok
    assert fix_for(v) == FIX_MULTIPLE_GRANTS
    assert "--multi-role" in FIX_MULTIPLE_GRANTS and "one Natoma role group" in FIX_MULTIPLE_GRANTS


@pytest.mark.parametrize("code", ["NotEffectivelyEntitled", "UserNotAssigned", "OutOfScope"])
def test_not_assigned_skips_are_failures(code):
    v = parse_response(shape1("Skipped", code, "the user is not assigned"))
    assert (v.result, v.outcome) == ("Skipped", "not_assigned")
    assert not v.ok
    assert fix_for(v) == FIX_NOT_ASSIGNED


def test_an_unknown_skip_reason_is_not_success():
    v = parse_response(shape1("Skipped", "SomethingNew"))
    assert v.outcome == "failed" and not v.ok


def test_a_skip_without_a_code_is_not_success():
    v = parse_response(shape1("Skipped"))
    assert not v.ok


@pytest.mark.parametrize("result", ["Pending", "", None, "Succeeded?", 42])
def test_an_unknown_result_is_not_success(result):
    body = {"key": json.dumps({"result": result}), "value": json.dumps(export_record())}
    v = parse_response(body)
    assert v.outcome == "unknown" and not v.ok
    assert fix_for(v) is not None


@pytest.mark.parametrize("key", ["garbage", "{not json", None, 42, "", "[1, 2]", json.dumps("Success")])
def test_an_unreadable_key_is_not_success(key):
    v = parse_response({"key": key, "value": json.dumps(export_record(status="Success"))})
    assert v.outcome == "unknown" and not v.ok
    assert v.problems


@pytest.mark.parametrize("body", [None, [], "Success", 200, {}])
def test_not_an_object_or_empty_is_unknown(body):
    v = parse_response(body)
    assert v.outcome == "unknown" and not v.ok


def test_a_value_that_is_not_json_keeps_the_verdict_and_says_so():
    v = parse_response({"key": json.dumps({"result": "Failure", "details": {"errorCode": "Unauthorized"}}),
                        "value": "<html>oops</html>"})
    assert (v.outcome, v.error_code) == ("failed", "Unauthorized")
    assert any("value" in p for p in v.problems)


def test_key_and_value_already_decoded_are_accepted():
    v = parse_response({"key": {"result": "Success", "details": {}}, "value": export_record()})
    assert v.outcome == "provisioned" and v.role == "admin"


def test_the_key_is_case_insensitive_about_the_result():
    assert parse_response(shape1("success", record=export_record())).outcome == "provisioned"
    assert parse_response(shape1("SKIPPED", "redundantExport")).outcome == "in_sync"


# -- shape 2 (Entra docs cross-tenant example: key names the type, value is a JSON array) -----------------------------

def shape2(records) -> dict:
    return {"key": STATUS_INFO_KEY, "value": json.dumps(records)}


def test_shape2_success_from_status_info():
    v = parse_response(shape2([export_record(status="success", role="member")]))
    assert (v.result, v.outcome, v.role) == ("Success", "provisioned", "member")
    assert v.ok


def test_shape2_without_status_info_reads_the_steps():
    rec = export_record(role="admin")
    del rec["statusInfo"]
    assert parse_response(shape2([rec])).outcome == "provisioned"
    failing = export_record(step_status="Failure")
    del failing["statusInfo"]
    assert parse_response(shape2([failing])).outcome == "failed"


def test_shape2_skip_reason_from_the_skip_step():
    rec = {"provisioningSteps": [{"name": "EntrySynchronizationSkip", "type": "Export", "status": "Skipped",
                                  "description": "not assigned", "details": {"SkipReason": "NotEffectivelyEntitled"}}]}
    v = parse_response(shape2([rec]))
    assert (v.result, v.outcome, v.error_code) == ("Skipped", "not_assigned", "NotEffectivelyEntitled")


def test_shape2_failure_with_error_information():
    rec = {"statusInfo": {"status": "failure", "errorInformation": {"errorCode": "MultipleGrantsNotSupported",
                                                                     "reason": "two roles"}},
           "provisioningSteps": []}
    v = parse_response(shape2([rec]))
    assert (v.outcome, v.error_code, v.error_message) == ("failed", "MultipleGrantsNotSupported", "two roles")
    assert fix_for(v) == FIX_MULTIPLE_GRANTS


@pytest.mark.parametrize("value", ["[]", "not json", None, json.dumps([{"provisioningSteps": []}])])
def test_shape2_with_nothing_to_read_is_unknown(value):
    v = parse_response({"key": STATUS_INFO_KEY, "value": value})
    assert v.outcome == "unknown" and not v.ok


# -- the request ------------------------------------------------------------------------------------------------------

def test_request_body_passes_versioned_rule_ids_unchanged():
    body = request_body("03f7d90d-bf71-41b1-bda6-aaf0ddbee5d8#V2", "u-1")
    assert body == {"parameters": [{"ruleId": "03f7d90d-bf71-41b1-bda6-aaf0ddbee5d8#V2",
                                    "subjects": [{"objectId": "u-1", "objectTypeName": "User"}]}]}


def test_a_successful_disable_is_not_a_provisioned_user():
    rec = {"action": "Disable", "modifiedProperties": [{"displayName": "active", "oldValue": "True", "newValue": "False"}],
           "provisioningSteps": [{"name": "EntryExportUpdateSoftDelete", "type": "Export", "status": "Success",
                                  "details": {}}]}
    v = parse_response(shape1("Success", record=rec))
    assert (v.result, v.outcome) == ("Success", "disabled")
    assert not v.ok and fix_for(v) == FIX_NOT_ASSIGNED
