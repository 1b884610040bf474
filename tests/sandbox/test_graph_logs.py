"""GET /auditLogs/provisioning: filters, newest first, paging (Graph docs provisioningobjectsummary-list.md)."""

import pytest


def record(n, sp, job, user, status, when):
    return {
        "id": f"log-{n}", "activityDateTime": when, "jobId": job, "cycleId": "c", "changeId": f"ch-{n}",
        "provisioningAction": "create", "servicePrincipal": {"id": sp, "displayName": "Natoma"},
        "sourceIdentity": {"id": user, "displayName": user, "identityType": "User", "details": {}},
        "provisioningStatusInfo": {"status": status, "errorInformation": None},
    }


@pytest.fixture
def logs(tenant, ids):
    job = "scim.x.y"
    entries = [
        record(1, ids.sp, job, ids.adele, "success", "2024-05-01T10:00:00Z"),
        record(2, ids.sp, job, ids.lee, "failure", "2024-05-01T11:00:00Z"),
        record(3, "other-sp", "other", ids.adele, "success", "2024-05-02T09:00:00Z"),
        record(4, ids.sp, job, ids.adele, "skipped", "2024-05-03T09:00:00.1234567Z"),
    ]
    tenant.state["provisioningLogs"].extend(entries)  # newest last, as the contract says
    return job


def ids_of(graph, **params):
    r = graph.get("/auditLogs/provisioning", params=params)
    assert r.status_code == 200, r.text
    return [x["id"] for x in r.json()["value"]]


def test_newest_first(graph, logs):
    assert ids_of(graph) == ["log-4", "log-3", "log-2", "log-1"]


def test_filters(graph, ids, logs):
    assert ids_of(graph, **{"$filter": f"servicePrincipal/id eq '{ids.sp}'"}) == ["log-4", "log-2", "log-1"]
    assert ids_of(graph, **{"$filter": f"jobId eq '{logs}' and provisioningStatusInfo/status eq 'failure'"}) == ["log-2"]
    assert ids_of(graph, **{"$filter": f"sourceIdentity/id eq '{ids.adele}'"}) == ["log-4", "log-3", "log-1"]
    assert ids_of(graph, **{"$filter": "activityDateTime gt 2024-05-01T10:30:00Z"}) == ["log-4", "log-3", "log-2"]
    assert ids_of(graph, **{"$filter": "activityDateTime lt 2024-05-01T10:30:00Z"}) == ["log-1"]
    assert ids_of(graph, **{"$filter": "activityDateTime gt 2024-05-03T09:00:00Z"}) == ["log-4"]
    combined = f"servicePrincipal/id eq '{ids.sp}' and activityDateTime gt 2024-05-01T10:30:00Z"
    assert ids_of(graph, **{"$filter": combined}) == ["log-4", "log-2"]


def test_filters_are_case_sensitive(graph, logs):
    assert ids_of(graph, **{"$filter": "provisioningStatusInfo/status eq 'Failure'"}) == []


def test_paging(graph, logs):
    body = graph.get("/auditLogs/provisioning", params={"$top": 3}).json()
    assert [x["id"] for x in body["value"]] == ["log-4", "log-3", "log-2"]
    rest = graph.get(body["@odata.nextLink"]).json()
    assert [x["id"] for x in rest["value"]] == ["log-1"] and "@odata.nextLink" not in rest


def test_bad_filter(graph, logs):
    assert graph.get("/auditLogs/provisioning", params={"$filter": "jobId eq"}).status_code == 400


def test_audit_permission(graph, tenant, logs):
    tenant.denied_permissions.add("AuditLog.Read.All")
    assert graph.get("/auditLogs/provisioning").status_code == 403
