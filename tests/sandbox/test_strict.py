"""Strict where Graph is strict (sandbox/strict.py)."""
from __future__ import annotations

import pytest

EVENTUAL = {"ConsistencyLevel": "eventual"}


def err(r):
    body = r.json()["error"]
    return r.status_code, body["code"], body["message"]


def test_select_of_an_unknown_property_is_400(graph, ids):
    status, code, message = err(graph.get("/users", params={"$select": "id,nickName"}))
    assert (status, code) == (400, "Request_BadRequest")
    assert message == "Could not find a property named 'nickName' on type 'microsoft.graph.user'."
    assert err(graph.get(f"/servicePrincipals/{ids.sp}", params={"$select": "id,roles"}))[0] == 400
    assert err(graph.get(f"/applications/{ids.app}", params={"$select": "appRoleAssignmentRequired"}))[0] == 400


def test_select_of_real_properties_passes_even_when_the_object_lacks_them(graph, ids):
    r = graph.get(f"/servicePrincipals/{ids.sp}", params={"$select": "id,appRoles,loginUrl"})
    assert r.status_code == 200 and set(r.json()) >= {"id", "appRoles"}
    # members are directoryObjects: a derived type's property is fine
    r = graph.get(f"/groups/{ids.members}/members", params={"$select": "id,displayName,userPrincipalName"})
    assert r.status_code == 200
    r = graph.get(f"/servicePrincipals/{ids.sp}/appRoleAssignedTo", params={"$select": "id,principalId,appRoleId"})
    assert r.status_code == 200


@pytest.mark.parametrize("params", [
    {"$filter": "accountEnabled ne false"},
    {"$filter": "not(startswith(displayName,'A'))"},
    {"$filter": "endsWith(mail,'@contoso.onmicrosoft.com')"},
    {"$count": "true"},
    {"$filter": "startswith(displayName,'A')", "$orderby": "displayName"},
])
def test_advanced_queries_need_consistency_level_and_count(graph, params):
    status, code, message = err(graph.get("/users", params=params))
    assert (status, code) == (400, "Request_UnsupportedQuery")
    assert "ConsistencyLevel" in message
    ok = graph.get("/users", params={**params, "$count": "true"}, headers=EVENTUAL)
    assert ok.status_code == 200, ok.text


def test_search_needs_the_header_only(graph):
    status, code, message = err(graph.get("/users", params={"$search": '"displayName:Adele"'}))
    assert (status, code) == (400, "Request_UnsupportedQuery") and "ConsistencyLevel: eventual" in message


def test_plain_queries_need_nothing(graph, ids):
    assert graph.get("/users", params={"$filter": "displayName eq 'Adele Vance'"}).status_code == 200
    assert graph.get("/groups", params={"$filter": "startswith(displayName,'Natoma')"}).status_code == 200
    assert graph.get(f"/groups/{ids.members}/transitiveMembers", params={"$top": "999"}).status_code == 200
    # not a directory object: the sync API is not subject to the advanced-query rules
    assert graph.get(f"/servicePrincipals/{ids.sp}/synchronization/jobs").status_code == 200


@pytest.mark.parametrize("flt", [
    "jobId eq 'j'", "jobId eq 'j' and provisioningStatusInfo/status eq 'failure'", "sourceIdentity/id eq 'u'",
    "activityDateTime gt 2024-01-01T00:00:00Z and activityDateTime lt 2025-01-01", "contains(jobId, 'scim')",
    "servicePrincipal/id eq 'x'", "contains(tolower(sourceIdentity/displayName), 'adele')", "cycleId eq 'c' or id eq 'i'",
])
def test_documented_log_filters_pass(graph, flt):
    r = graph.get("/auditLogs/provisioning", params={"$filter": flt, "$orderby": "activityDateTime desc"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("flt", [
    "activityDateTime ge 2024-01-01", "jobId ne 'j'", "servicePrincipal/displayName eq 'Natoma'",
    "durationInMilliseconds gt 5", "startswith(jobId, 'scim')", "not (jobId eq 'j')", "servicePrincipal/id gt 'a'",
    "contains(servicePrincipal/id, 'a')",
])
def test_undocumented_log_filters_are_400(graph, flt):
    status, code, message = err(graph.get("/auditLogs/provisioning", params={"$filter": flt}))
    assert status == 400 and "Invalid filter clause" in message


def test_log_orderby_only_on_activity_date_time(graph):
    assert graph.get("/auditLogs/provisioning", params={"$orderby": "jobId"}).status_code == 400
    assert graph.get("/auditLogs/provisioning", params={"$orderby": "activityDateTime"}).status_code == 200
