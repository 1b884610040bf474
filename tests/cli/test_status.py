"""`natoma-entra status`: read-only states and exit codes."""
from natoma_entra.sandbox import faults


def states(doc) -> dict:
    return {s["step"]: s["info"]["state"] for s in doc["steps"]}


def test_fresh_tenant_everything_missing_and_exit_code_3(sandbox):
    r = sandbox.cli("--exit-code", "status", "--output", "json")
    assert r.code == 3
    assert r.writes == []
    assert states(r.json()) == {"roles": "missing", "assign": "missing", "mapping": "missing",
                                "credentials": "missing", "start": "missing"}


def test_without_exit_code_status_exits_0_even_with_drift(sandbox):
    assert sandbox.cli("status").code == 0


def test_after_setup_everything_in_place(sandbox):
    sandbox.set_up()
    r = sandbox.cli("status", "--exit-code", "--output", "json")
    assert r.code == 0, r.out
    assert set(states(r.json()).values()) == {"in place"}
    assert r.writes == []
    text = sandbox.cli("status")
    assert text.out.count("in place") == 5


def test_drifted_role_is_reported_with_what_differs(sandbox):
    sandbox.set_up()
    t = sandbox.tenant()
    role = next(r for r in t.find_app("Natoma")["appRoles"] if r.get("value") == "member")
    role["displayName"] = "Members"
    sandbox.save(t)
    r = sandbox.cli("status", "--exit-code", "--output", "json")
    assert r.code == 3
    doc = r.json()
    assert states(doc)["roles"] == "drifted"
    roles = doc["steps"][0]
    assert any("displayName 'Members' -> 'Member'" in (c["detail"].get("why") or "") for c in roles["changes"])
    assert r.writes == []
    assert "drifted" in sandbox.cli("status").out


def test_removed_assignment_is_missing(sandbox):
    sandbox.set_up()
    t = sandbox.tenant()
    sp = t.find_sp("Natoma")
    member_role = next(r["id"] for r in sp["appRoles"] if r.get("value") == "member")
    for aid, a in list(t.state["appRoleAssignments"].items()):
        if a["appRoleId"] == member_role:
            del t.state["appRoleAssignments"][aid]
    sandbox.save(t)
    r = sandbox.cli("status", "--output", "json")
    assert states(r.json())["assign"] == "missing"
    assert any(c["target"] == "Natoma Members -> Member" for c in r.json()["steps"][1]["changes"] if c["action"] == "create")


def test_paused_job_and_quarantined_job_are_drifted_and_a_job_never_started_is_missing(sandbox):
    """docs/status.md: a start that was never made is missing; a paused or quarantined job (an update) drifted."""
    sandbox.set_up()
    t = sandbox.tenant()
    job = next(iter(t.state["jobs"][t.find_sp("Natoma")["id"]].values()))
    job["schedule"]["state"] = "Paused"
    job["status"]["code"] = "Paused"
    sandbox.save(t)
    assert states(sandbox.cli("status", "--output", "json").json())["start"] == "drifted"
    t = sandbox.tenant()
    job = next(iter(t.state["jobs"][t.find_sp("Natoma")["id"]].values()))
    job["schedule"]["state"] = "Active"
    job["status"]["code"] = "Quarantine"
    job["status"]["quarantine"] = {"reason": "EncounteredQuarantineException", "currentBegan": "2026-11-28T00:00:00Z",
                                   "error": {"code": "Unauthorized", "message": "401", "tenantActionable": True}}
    sandbox.save(t)
    doc = sandbox.cli("status", "--output", "json").json()
    assert states(doc)["start"] == "drifted"
    start = doc["steps"][4]["info"]
    assert "EncounteredQuarantineException" in start["quarantine"] and start["last_cycle"]
    assert "EncounteredQuarantineException" in sandbox.cli("status").out
    t = sandbox.tenant()
    job = next(iter(t.state["jobs"][t.find_sp("Natoma")["id"]].values()))
    job["schedule"]["state"], job["status"] = "Disabled", {"code": "NotConfigured"}
    sandbox.save(t)
    assert states(sandbox.cli("status", "--output", "json").json())["start"] == "missing"


def test_graph_failure_in_status_exits_1(sandbox, monkeypatch):
    sandbox.set_up()
    sandbox.options.faults[:] = [faults.server_error(500, method="GET", path=r"/schema$")]
    r = sandbox.cli("status", "--output", "json")
    assert r.code == 1
    assert states(r.json())["mapping"] == "failed"


def test_a_natoma_role_granted_by_hand_to_an_unconfigured_principal_is_drift_for_status_and_doctor(sandbox,
                                                                                                   add_assignment):
    """Privilege drift: a user (or a group, or a service principal) given Admin by hand, outside the config."""
    from natoma_entra.sandbox.state import user_id
    from natoma_entra.steps.roles import role_id

    sandbox.set_up()
    t = sandbox.tenant()
    add_assignment(t, user_id("Diego Siciliani"), "User", role_id(t.find_app("Natoma")["appId"], "admin"))
    sandbox.save(t)
    r = sandbox.cli("--exit-code", "status", "-o", "json")
    assert r.code == 3 and states(r.json())["assign"] == "drifted"
    assert any("Diego Siciliani" in w and "--prune" in w for w in r.json()["warnings"])
    doc = sandbox.cli("doctor", "-o", "json").json()
    groups = next(s for s in doc["steps"] if s["step"] == "groups-assigned")
    assert groups["info"]["verdict"] == "warn" and "--prune" in groups["fix"]
    assert any("Diego Siciliani" in d and "not configured" in d for d in groups["info"]["details"])
    assert sandbox.cli("assign", "--prune", "--yes").code == 0  # a user's own grant stays (docs/assign.md) ...
    assert sandbox.cli("--exit-code", "status").code == 3
    assert sandbox.cli("assign", "--prune-user", "Diego Siciliani", "--yes").code == 0  # ... unless named
    assert sandbox.cli("--exit-code", "status").code == 0
