"""`natoma-entra doctor` against the sandbox: verdicts, fixes, exit codes, and no write."""
from __future__ import annotations

import pytest

from natoma_entra.sandbox.state import (DEFAULT_ACCESS_ROLE_ID, MSIAM_ACCESS_ROLE_ID, NATOMA_TOKEN,
                                        group_id, user_id)


@pytest.fixture
def configured(sandbox, monkeypatch):
    """The sandbox after `setup` (docs/sandbox.md: Lee in two role groups, Pradeep only in a nested group)."""
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    r = sandbox.set_up()
    assert r.code == 0, r.out + r.err
    monkeypatch.delenv("NATOMA_SCIM_TOKEN")
    return sandbox


def doctor(sandbox, *args):
    r = sandbox.cli("--output", "json", "doctor", *args)
    assert r.writes == [], r.writes  # read-only, always
    return r, {s["step"]: s for s in r.json()["steps"]}




def the_job(tenant):
    (job,) = tenant.state["jobs"][tenant.find_sp()["id"]].values()
    return job


def test_fresh_tenant_fails_roles_groups_mapping_credentials_and_job_with_their_fixes(sandbox):
    r, steps = doctor(sandbox)
    assert r.code == 1
    doc = r.json()
    assert doc["ok"] is False and doc["command"] == "doctor"
    assert list(steps) == ["app", "roles", "role-missing", "groups-assigned", "multiple-grants", "nested-only",
                           "mapping", "credentials", "job", "permissions"]
    verdicts = {k: s["info"]["verdict"] for k, s in steps.items()}
    assert verdicts == {"app": "ok", "roles": "fail", "role-missing": "ok", "groups-assigned": "fail",
                        "multiple-grants": "ok", "nested-only": "ok", "mapping": "fail", "credentials": "fail",
                        "job": "fail", "permissions": "ok"}
    assert steps["roles"]["fix"] == "natoma-entra roles"
    assert steps["roles"]["status"] == "failed" and "role Admin (admin)" in " ".join(steps["roles"]["info"]["details"])
    assert steps["groups-assigned"]["fix"] == "natoma-entra assign"
    assert "natoma-entra mapping" in steps["mapping"]["fix"]
    assert "natoma-entra credentials" in steps["credentials"]["fix"]
    assert steps["app"]["status"] == "unchanged"


def test_configured_sandbox_flags_lee_for_two_roles_and_pradeep_as_nested_only(configured):
    r, steps = doctor(configured)
    assert r.code == 1
    multi = steps["multiple-grants"]
    assert multi["info"]["verdict"] == "fail" and multi["status"] == "failed"
    assert "MultipleGrantsNotSupported" in multi["error"]
    flagged = [u["user"] for u in multi["info"]["data"]["users"]]
    assert flagged == ["Lee Gu (LeeG@contoso.onmicrosoft.com)"]
    assert multi["info"]["data"]["users"][0]["roles"] == {"admin": ["Natoma Admins"], "member": ["Natoma Members"]}
    assert "--multi-role" in multi["fix"]

    nested = steps["nested-only"]
    assert nested["info"]["verdict"] == "warn" and nested["status"] == "unchanged"
    assert [u["user"] for u in nested["info"]["data"]["users"]] == ["Pradeep Gupta (PradeepG@contoso.onmicrosoft.com)"]
    assert nested["info"]["data"]["users"][0]["via"] == ["Natoma Contractors (in Natoma Members)"]
    assert any("nested" in w for w in r.json()["warnings"])

    for name in ("app", "roles", "role-missing", "groups-assigned", "mapping", "credentials"):
        assert steps[name]["info"]["verdict"] == "ok", (name, steps[name])
    assert steps["credentials"]["info"]["data"]["connection_test"] == "passed"
    # Lee's failed export makes the cycle end with EntryLevelErrors: a warning that points at the logs
    assert steps["job"]["info"]["verdict"] == "warn"
    assert "natoma-entra logs --errors" in steps["job"]["fix"]
    # no read is made twice
    gets = [p for m, p, _ in r.requests if m == "GET"]
    assert len(gets) == len(set(gets))


def test_text_output_is_a_table_with_a_summary_line(configured):
    r = configured.cli("doctor")
    assert r.code == 1
    assert "multiple-grants" in r.out and "Lee Gu" in r.out and "Pradeep Gupta" in r.out
    assert "checks:" in r.out and "1 fail" in r.out and "2 warn" in r.out


def test_multi_role_mapping_makes_several_roles_ok(configured):
    assert configured.cli("mapping", "--multi-role").code == 0
    r, steps = doctor(configured)
    assert steps["multiple-grants"]["info"]["verdict"] == "ok"
    assert "multi-role" in steps["multiple-grants"]["info"]["summary"]
    assert steps["mapping"]["info"]["verdict"] == "ok"
    assert steps["mapping"]["info"]["data"]["mode"] == "multi-role"


def test_group_assigned_with_default_access_or_msiam_access_is_role_missing(configured, add_assignment):
    t = configured.tenant()
    add_assignment(t, group_id("Natoma Contractors"), "Group", DEFAULT_ACCESS_ROLE_ID)
    add_assignment(t, user_id("Diego Siciliani"), "User", MSIAM_ACCESS_ROLE_ID)
    configured.save(t)
    r, steps = doctor(configured)
    assert r.code == 1
    missing = steps["role-missing"]
    assert missing["info"]["verdict"] == "fail"
    details = "\n".join(missing["info"]["details"])
    assert "Group 'Natoma Contractors' is assigned with default access" in details
    assert "User 'Diego Siciliani' is assigned with msiam_access" in details
    assert "select a role" in missing["fix"] and "assign --replace" in missing["fix"]
    # Pradeep is now a direct member of an assigned group: no longer nested-only
    assert steps["nested-only"]["info"]["verdict"] == "ok"


def test_quarantined_job_fails_with_the_reason_and_the_fix(configured):
    t = configured.tenant()
    sp = t.find_sp()
    for item in t.state["secrets"][sp["id"]]:
        if item["key"] == "SecretToken":
            item["value"] = "a-revoked-token"
    configured.save(t)
    assert configured.cli("start", "--restart").code in (0, 1)  # the cycle runs and is refused: quarantine
    assert the_job(configured.tenant())["status"]["code"] == "Quarantine"

    r, steps = doctor(configured)
    assert r.code == 1
    job = steps["job"]
    assert job["status"] == "failed" and job["info"]["verdict"] == "fail"
    assert "quarantine" in job["error"] and "EncounteredQuarantineException" in job["error"]
    assert "natoma-entra start --restart" in job["fix"]
    cred = steps["credentials"]
    assert cred["info"]["verdict"] == "fail" and "connection test" in cred["error"]
    assert "credentials --rotate" in cred["fix"]
    assert "a-revoked-token" not in r.out


def test_quarantine_set_on_the_job_status(configured):
    t = configured.tenant()
    job = the_job(t)
    job["status"]["code"] = "Quarantine"
    job["status"]["quarantine"] = {"reason": "EncounteredQuarantineException",
                                   "error": {"code": "ConnectionFailure", "message": "the SCIM endpoint is down"}}
    configured.save(t)
    r, steps = doctor(configured)
    assert r.code == 1
    assert steps["job"]["error"] == ("the job is in quarantine: EncounteredQuarantineException: "
                                     "the SCIM endpoint is down")


def test_paused_job_and_sync_all_fail(configured):
    t = configured.tenant()
    job = the_job(t)
    job["status"]["code"] = "Paused"
    job["schedule"]["state"] = "Paused"
    for item in t.state["secrets"][t.find_sp()["id"]]:
        if item["key"] == "SyncAll":
            item["value"] = "true"
    configured.save(t)
    r, steps = doctor(configured)
    assert steps["job"]["info"]["verdict"] == "fail" and steps["job"]["fix"] == "natoma-entra start"
    cred = steps["credentials"]
    assert cred["info"]["verdict"] == "fail" and "Sync All" in cred["error"]
    assert "start --restart" in cred["fix"]


def _only_warnings(configured):
    """Lee keeps one role group, and a clean cycle runs: only Pradeep (nested) is left, a warning."""
    t = configured.tenant()
    t.state["members"][group_id("Natoma Members")].remove(user_id("Lee Gu"))
    configured.save(t)
    assert configured.cli("start", "--restart").code == 0


def test_warnings_exit_0_and_strict_exits_1(configured):
    _only_warnings(configured)
    r, steps = doctor(configured)
    assert r.code == 0, {k: s["info"]["verdict"] for k, s in steps.items()}
    assert r.json()["ok"] is True
    assert steps["multiple-grants"]["info"]["verdict"] == "ok"
    assert steps["job"]["info"]["verdict"] == "ok"
    assert "natoma-entra provision USER" in " ".join(steps["job"]["info"]["details"])
    assert [k for k, s in steps.items() if s["info"]["verdict"] != "ok"] == ["nested-only"]
    strict = configured.cli("--strict", "doctor")
    assert strict.code == 1 and strict.writes == []


@pytest.mark.parametrize("upn,verdict,words", [
    ("AdeleV@contoso.onmicrosoft.com", "ok", "provisioned as admin"),
    ("LeeG@contoso.onmicrosoft.com", "fail", "MultipleGrantsNotSupported"),
    ("DiegoS@contoso.onmicrosoft.com", "fail", "not assigned"),
    ("PradeepG@contoso.onmicrosoft.com", "fail", "only in nested group Natoma Contractors"),
])
def test_user_option_checks_one_user(configured, upn, verdict, words):
    r, steps = doctor(configured, "--user", upn)
    user = steps["user"]
    assert user["info"]["verdict"] == verdict
    assert words in user["info"]["summary"]


def test_unknown_user_fails_the_user_check(configured):
    r, steps = doctor(configured, "--user", "nobody@contoso.onmicrosoft.com")
    assert steps["user"]["info"]["verdict"] == "fail" and r.code == 1


def test_configured_group_missing_and_non_security_group_assigned(configured, add_assignment):
    t = configured.tenant()
    add_assignment(t, group_id("All Company"), "Group", next(
        r["id"] for r in t.find_sp()["appRoles"] if r.get("value") == "member"))
    configured.save(t)
    r, steps = doctor(configured, "--app", "Natoma")
    groups = steps["groups-assigned"]
    assert groups["info"]["verdict"] == "warn"
    assert any("'All Company' is assigned but is a Microsoft 365 group" in d for d in groups["info"]["details"])

    t = configured.tenant()
    sp = t.find_sp()
    for aid, a in list(t.state["appRoleAssignments"].items()):
        if a["principalId"] == group_id("Natoma App Admins"):
            del t.state["appRoleAssignments"][aid]
    configured.save(t)
    r, steps = doctor(configured)
    groups = steps["groups-assigned"]
    assert groups["info"]["verdict"] == "fail" and groups["fix"].startswith("natoma-entra assign")
    assert "'Natoma App Admins' is not assigned" in groups["error"] + " ".join(groups["info"]["details"])
    assert sp["id"]


def test_members_beyond_one_page_are_read(configured):
    """A group with more members than one page: a user on the second page is still found in two role groups."""
    t = configured.tenant()
    members = t.state["members"][group_id("Natoma App Admins")]
    for i in range(1100):
        uid = user_id(f"Filler {i}")
        t.state["users"][uid] = {"id": uid, "displayName": f"Filler {i}", "userPrincipalName": f"filler{i}@x.test",
                                 "accountEnabled": True}
        members.append(uid)
    members.append(user_id("Megan Bowen"))  # Megan: Member and, on page 2, AppAdmin
    configured.save(t)
    r, steps = doctor(configured)
    flagged = {u["user"].split(" (")[0] for u in steps["multiple-grants"]["info"]["data"]["users"]}
    assert flagged == {"Lee Gu", "Megan Bowen"}
    assert any("$skiptoken" in p for m, p, _ in r.requests if "/members" in p)


def test_unknown_app_fails_the_app_check(sandbox):
    r = sandbox.cli("--output", "json", "--app", "Nope", "doctor")
    assert r.code == 1 and r.writes == []
    (step,) = r.json()["steps"]
    assert step["step"] == "app" and step["status"] == "failed" and "--app" in step["fix"]


def test_msiam_access_next_to_a_natoma_role_is_a_second_grant_not_a_missing_role(configured, add_assignment):
    t = configured.tenant()
    add_assignment(t, group_id("Natoma Members"), "Group", MSIAM_ACCESS_ROLE_ID)
    configured.save(t)
    r, steps = doctor(configured)
    missing = steps["role-missing"]
    assert missing["info"]["verdict"] == "warn"
    details = "\n".join(missing["info"]["details"])
    assert "'Natoma Members' also holds msiam_access next to its Natoma role" in details
    assert "get no Natoma role" not in details
