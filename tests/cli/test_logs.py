"""`natoma-entra logs` against the sandbox: filters, newest first, paging and limits, errors."""
from __future__ import annotations

import copy
import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest

LEE = "LeeG@contoso.onmicrosoft.com"
ADELE = "AdeleV@contoso.onmicrosoft.com"


@pytest.fixture
def ready(sandbox):
    """setup ran one cycle (Lee fails with MultipleGrantsNotSupported); two on-demand runs add records."""
    r = sandbox.set_up()
    assert r.code == 0, r.err
    assert sandbox.cli("provision", ADELE).code == 0
    assert sandbox.cli("provision", "DiegoS@contoso.onmicrosoft.com").code == 1
    return sandbox


def user_id(sandbox, upn):
    return next(u["id"] for u in sandbox.tenant().state["users"].values() if u["userPrincipalName"] == upn)


def records(result):
    doc = result.json()
    assert doc["command"] == "logs"
    [step] = doc["steps"]
    assert step["step"] == "logs"
    return step["info"]["records"]


def log_gets(result):
    return [r for r in result.requests if r[0] == "GET" and "/auditLogs/provisioning" in r[1]]


def test_all_records_newest_first(ready):
    r = ready.cli("logs", "-o", "json")
    assert r.code == 0, r.err
    recs = records(r)
    assert len(recs) == len(ready.tenant().state["provisioningLogs"])
    times = [x["activityDateTime"] for x in recs]
    assert times == sorted(times, reverse=True)
    sp = r.json()["app"]["servicePrincipalId"]
    assert all(x["servicePrincipal"]["id"] == sp for x in recs)
    query = parse_qs(urlsplit(log_gets(r)[0][1]).query)
    assert query["$orderby"] == ["activityDateTime desc"]
    job = next(iter(ready.tenant().state["jobs"][sp]))
    assert query["$filter"] == [f"jobId eq '{job}'"]


def test_errors_shows_lees_failure(ready):
    r = ready.cli("logs", "--errors", "-o", "json")
    assert r.code == 0
    recs = records(r)
    assert recs, "the setup cycle logged Lee's failure"
    assert all(x["provisioningStatusInfo"]["status"] == "failure" for x in recs)
    assert {x["sourceIdentity"]["id"] for x in recs} == {user_id(ready, LEE)}
    assert recs[0]["provisioningStatusInfo"]["errorInformation"]["errorCode"] == "MultipleGrantsNotSupported"
    text = ready.cli("logs", "--errors")
    assert text.code == 0
    assert "MultipleGrantsNotSupported" in text.out and LEE in text.out and "failure" in text.out
    assert ADELE not in text.out


def test_user_filter_by_upn_and_by_id(ready):
    adele = user_id(ready, ADELE)
    by_upn = records(ready.cli("logs", "--user", ADELE, "-o", "json"))
    assert by_upn and all(x["sourceIdentity"]["id"] == adele for x in by_upn)
    by_id = records(ready.cli("logs", "--user", adele, "-o", "json"))
    assert [x["id"] for x in by_id] == [x["id"] for x in by_upn]
    by_name = ready.cli("logs", "--user", "Adele Vance")
    assert by_name.code == 0 and ADELE in by_name.out and LEE not in by_name.out


def test_since_a_duration_and_a_date(ready):
    t = ready.tenant()
    logs = t.state["provisioningLogs"]
    old = copy.deepcopy(logs[0])
    old["id"] = "old-record"
    old["activityDateTime"] = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
    logs.insert(0, old)
    ready.save(t)
    recent = records(ready.cli("logs", "--since", "2d", "-o", "json"))
    assert recent and "old-record" not in [x["id"] for x in recent]
    week = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=20)).strftime("%Y-%m-%d")
    everything = records(ready.cli("logs", "--since", week, "-o", "json"))
    assert "old-record" in [x["id"] for x in everything]
    assert len(everything) == len(recent) + 1
    future = ready.cli("logs", "--since", "2999-01-01T00:00:00Z")
    assert future.code == 0 and "no provisioning log records match" in future.out


def test_limit_follows_next_links_and_stops(ready, monkeypatch):
    from natoma_entra.steps import logs as step

    total = len(ready.tenant().state["provisioningLogs"])
    assert total >= 4
    r = ready.cli("logs", "--limit", "2", "-o", "json")
    assert len(records(r)) == 2 and len(log_gets(r)) == 1
    monkeypatch.setattr(step, "MAX_PAGE", 2)
    r = ready.cli("logs", "--limit", "3", "-o", "json")
    recs = records(r)
    assert len(recs) == 3
    assert len(log_gets(r)) == 2  # a second page through @odata.nextLink, then stop
    everything = records(ready.cli("logs", "--limit", "1000", "-o", "json"))
    assert [x["id"] for x in everything[:3]] == [x["id"] for x in recs]
    text = ready.cli("logs", "--limit", "2")
    assert "--limit N for more" in text.out


def test_filters_combine(ready):
    r = ready.cli("logs", "--errors", "--user", ADELE, "--since", "1h", "-o", "json")
    assert r.code == 0 and records(r) == []
    flt = r.json()["steps"][0]["info"]["filter"]
    assert "provisioningStatusInfo/status eq 'failure'" in flt
    assert f"sourceIdentity/id eq '{user_id(ready, ADELE)}'" in flt
    assert "activityDateTime gt " in flt


@pytest.mark.parametrize("args", [["--since", "yesterday"], ["--since", "2d ago"], ["--limit", "0"],
                                  ["--user", "nobody@contoso.onmicrosoft.com"]])
def test_bad_input_exits_2(ready, args):
    r = ready.cli("logs", *args)
    assert r.code == 2


def test_a_missing_permission_is_named(sandbox, monkeypatch):


    sandbox.options.denied_permissions = {"AuditLog.Read.All"}
    r = sandbox.cli("logs")
    assert r.code == 1
    assert "AuditLog.Read.All" in r.out


def test_no_records_yet(sandbox):
    r = sandbox.cli("logs")
    assert r.code == 0 and "no provisioning log records match" in r.out


# -- pure parts ----------------------------------------------------------------------------------------------------

def test_parse_since():
    from natoma_entra.errors import UsageError
    from natoma_entra.steps.logs import odata_time, parse_since

    now = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.timezone.utc)
    assert odata_time(parse_since("1h", now)) == "2026-06-10T11:00:00Z"
    assert odata_time(parse_since("2d", now)) == "2026-06-08T12:00:00Z"
    assert odata_time(parse_since("30m", now)) == "2026-06-10T11:30:00Z"
    assert odata_time(parse_since("1w", now)) == "2026-06-03T12:00:00Z"
    assert odata_time(parse_since("2026-06-01", now)) == "2026-06-01T00:00:00Z"
    assert odata_time(parse_since("2026-06-01T08:30:00Z", now)) == "2026-06-01T08:30:00Z"
    assert odata_time(parse_since("2026-06-01T08:30:00+02:00", now)) == "2026-06-01T06:30:00Z"
    with pytest.raises(UsageError):
        parse_since("last tuesday", now)


def test_build_filter_quotes_values():
    from natoma_entra.steps.logs import build_filter

    assert build_filter("scim.'1", user_id="u1", errors=True) == (
        "jobId eq 'scim.''1' and sourceIdentity/id eq 'u1' and provisioningStatusInfo/status eq 'failure'")
    assert build_filter(None, sp_id="sp'1") == "servicePrincipal/id eq 'sp''1'"  # no job: the documented fallback


def test_summary_of_the_graph_docs_example():
    from natoma_entra.steps.logs import summary

    rec = {"activityDateTime": "2019-06-24T20:53:08Z", "provisioningAction": "create",
           "sourceIdentity": {"id": "5e6c", "displayName": "Self-service Pilot", "identityType": "Group", "details": {}},
           "provisioningStatusInfo": {"status": "failure", "errorInformation": {"errorCode": "ContosoEntryConflict",
                                                                                "reason": "409"}}}
    assert summary(rec) == {"time": "2019-06-24T20:53:08Z", "user": "Self-service Pilot", "action": "create",
                            "status": "failure", "errorCode": "ContosoEntryConflict", "reason": "409"}
    assert summary({})["user"] == ""
