"""`natoma-entra setup` end to end against the sandbox: the guide's outcome in Natoma, idempotence, resumption."""
import re

import pytest

from natoma_entra.sandbox import faults
from natoma_entra.sandbox.natoma import standin_for


def natoma_roles(tenant) -> dict:
    """userName -> role values, as Natoma's stand-in holds them."""
    return {u["userName"].split("@")[0]: sorted(r.get("value") for r in u.get("roles") or [])
            for u in standin_for(tenant).users()}


def outcome(tenant) -> dict:
    """What the tenant ends up with, for comparing runs: roles, assignments, schema, secrets, job state, Natoma."""
    st = tenant.state
    sp = tenant.find_sp("Natoma")
    jobs = st["jobs"].get(sp["id"], {})
    return {
        "roles": sorted((r.get("value"), r["id"], r["isEnabled"]) for r in tenant.find_app("Natoma")["appRoles"]
                        if r.get("value")),
        "assignments": sorted((a["principalId"], a["appRoleId"]) for a in st["appRoleAssignments"].values()),
        "jobs": sorted(jobs),
        "schemas": {j: st["schemas"].get(j) for j in jobs},
        "secrets": sorted((s["key"], s["value"]) for s in st["secrets"].get(sp["id"], [])),
        "job_state": [(j["schedule"]["state"], j["status"]["code"]) for j in jobs.values()],
        "natoma": natoma_roles(tenant),
    }


def test_full_setup_on_a_fresh_tenant_gives_each_user_the_role_of_their_group(sandbox):
    r = sandbox.cli("setup")
    assert r.code == 0, r.out + r.err
    t = sandbox.tenant()
    got = natoma_roles(t)
    assert got["AdeleV"] == ["admin"]
    assert got["AlexW"] == ["AppAdmin"]
    assert got["MeganB"] == ["member"]
    assert "LeeG" not in got  # two role groups: MultipleGrantsNotSupported, nothing sent
    assert "DiegoS" not in got  # in no group
    assert not any(k.startswith("Pradeep") for k in got)  # only in a nested group
    errors = [log for log in t.state["provisioningLogs"]
              if log["provisioningStatusInfo"]["status"] == "failure"]
    assert [e["provisioningStatusInfo"]["errorInformation"]["errorCode"] for e in errors] == ["MultipleGrantsNotSupported"]
    job = next(iter(t.state["jobs"][t.find_sp("Natoma")["id"]].values()))
    assert job["schedule"]["state"] == "Active"
    secrets = {s["key"]: s["value"] for s in t.state["secrets"][t.find_sp("Natoma")["id"]]}
    assert secrets["SyncAll"] == "false"  # scope: sync only assigned users and groups
    assert "done" in r.out
    summary = r.out[r.out.index("Summary"):]
    for step, n in (("roles", 3), ("assign", 3), ("mapping", 2), ("credentials", 1), ("start", 1)):
        assert re.search(rf"^{step}\s+changed\s+{n}$", summary, re.M), (step, summary)  # piped: plain aligned lines


def test_second_run_makes_no_write_and_says_so(sandbox):
    assert sandbox.set_up().code == 0
    before = outcome(sandbox.tenant())
    r = sandbox.cli("setup", "--output", "json")
    assert r.code == 0
    assert r.writes == []
    doc = r.json()
    assert [s["status"] for s in doc["steps"]] == ["unchanged"] * 5
    assert outcome(sandbox.tenant()) == before
    assert "nothing to do" in sandbox.cli("setup").out


def test_reads_are_not_repeated_across_steps(sandbox):
    """A read made by one step is not made again by a later one (docs/dev/architecture.md)."""
    sandbox.set_up()
    r = sandbox.cli("setup")
    gets = [q[1].split("?")[0] for q in r.requests if q[0] == "GET"]
    for path in set(gets):
        if path.endswith("/schema") or path.endswith("/synchronization/jobs") or path.endswith("/appRoleAssignedTo"):
            assert gets.count(path) == 1, (path, gets.count(path))


def test_dry_run_on_a_fresh_tenant_plans_every_step_and_writes_nothing(sandbox):
    before = outcome(sandbox.tenant())
    r = sandbox.cli("--dry-run", "--exit-code", "setup", "--output", "json")
    assert r.code == 3  # changes pending
    assert r.writes == []
    doc = r.json()
    assert [s["step"] for s in doc["steps"]] == ["roles", "assign", "mapping", "credentials", "start"]
    assert all(s["status"] == "planned" for s in doc["steps"])
    assert outcome(sandbox.tenant()) == before
    # without --exit-code a dry run exits 0
    assert sandbox.cli("--dry-run", "setup").code == 0


def test_dry_run_after_setup_has_nothing_pending(sandbox):
    sandbox.set_up()
    r = sandbox.cli("--dry-run", "--exit-code", "setup")
    assert r.code == 0 and r.writes == []


WRITES = [
    ("roles", "PATCH", r"/applications/"),
    ("assign", "POST", r"/appRoleAssignedTo$"),
    ("mapping", "POST", r"/synchronization/jobs$"),
    ("mapping", "PUT", r"/schema$"),
    ("credentials", "PUT", r"/synchronization/secrets$"),
    ("start", "POST", r"/start$"),
]


def _rerun_converges(sandbox, reference) -> None:
    """The fault gone, `setup` run again succeeds and the tenant ends as a clean setup leaves one."""
    sandbox.options.faults[:] = []
    again = sandbox.cli("setup")
    assert again.code == 0, again.out + again.err
    assert outcome(sandbox.tenant()) == outcome(reference)


@pytest.mark.parametrize("step,method,path", WRITES)
def test_a_failure_in_any_step_stops_the_run_and_a_rerun_converges(sandbox, monkeypatch, tmp_path, step, method, path):
    reference = sandbox.reference()  # a clean setup on another fresh tenant
    sandbox.options.faults[:] = [faults.server_error(500, method=method, path=path)]
    r = sandbox.cli("setup", "--output", "json")
    assert r.code == 1
    doc = r.json()
    failed = [s for s in doc["steps"] if s["status"] == "failed"]
    assert [s["step"] for s in failed] == [step]
    assert failed[0]["error"] and failed[0]["fix"]
    later = doc["steps"][[s["step"] for s in doc["steps"]].index(step) + 1:]
    assert all(s["status"] == "skipped" for s in later)
    _rerun_converges(sandbox, reference)
    assert sandbox.cli("setup").writes == []


@pytest.mark.parametrize("step,method,path", WRITES)
def test_a_lost_response_after_a_write_is_survived_without_writing_it_twice(sandbox, step, method, path):
    """The write happened but its answer was lost (the connection dropped after the request went out): the run reads
    the tenant before it repeats a write that is not safe to repeat (graph/retry.py), so it goes on without a second
    job or assignment, and ends as a clean setup does (issue 23)."""
    from natoma_entra.sandbox.clock import VirtualClock

    reference = sandbox.reference()  # a clean setup on another fresh tenant
    sandbox.options.clock = VirtualClock()  # the 1 s wait before the re-read costs no real time
    sandbox.options.faults[:] = [faults.drop(after=True, method=method, path=path)]
    r = sandbox.cli("setup")
    assert r.code == 0, r.out + r.err
    assert [q for q in r.requests if q[2] == "dropped"], "the fault fired"
    assert outcome(sandbox.tenant()) == outcome(reference)
    t = sandbox.tenant()
    assert len(t.state["jobs"][t.find_sp("Natoma")["id"]]) == 1  # never a second job
    assert sandbox.cli("setup").writes == []


def test_throttling_and_transient_errors_are_retried(sandbox, monkeypatch):
    sandbox.options.faults[:] = [
        faults.throttle(0, method="GET", path=r"/servicePrincipals$"),  # Retry-After 0: retried without a wait
        faults.server_error(503, retry_after=0, method="POST", path=r"/appRoleAssignedTo$"),
        faults.server_error(504, retry_after=0, method="PUT", path=r"/schema$"),
    ]
    r = sandbox.cli("setup")
    assert r.code == 0, r.out + r.err
    statuses = [q[2] for q in r.requests]
    assert 429 in statuses and 503 in statuses and 504 in statuses


def test_unknown_group_fails_before_any_write(sandbox):
    r = sandbox.cli("setup", "--group", "admin=Natoma Admins", "--group", "member=Nobody Here")
    assert r.code == 2
    assert "no group named 'Nobody Here'" in r.err
    assert r.writes == []


def test_rejected_scim_token_stops_setup_before_any_write(sandbox, monkeypatch):
    assert sandbox.set_up().code == 0
    before = outcome(sandbox.tenant())
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", "fake-wrong-scim-token")
    r = sandbox.cli("setup", "--rotate", "--output", "json")
    assert r.code == 1
    doc = r.json()
    assert doc["ok"] is False and "connection test failed" in doc["error"] and doc["fix"]
    assert r.writes == []
    assert "fake-wrong-scim-token" not in r.out + r.err
    assert outcome(sandbox.tenant()) == before


def test_rejected_scim_token_on_a_fresh_tenant_writes_nothing(sandbox, monkeypatch):
    before = outcome(sandbox.tenant())
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", "fake-wrong-scim-token")
    r = sandbox.cli("setup")
    assert r.code == 1 and "connection test failed" in r.err
    assert r.writes == [] and outcome(sandbox.tenant()) == before


def test_strict_turns_warnings_into_exit_1(sandbox):
    sandbox.set_up()
    r = sandbox.cli("--strict", "setup", "--output", "json")
    assert r.json()["warnings"]  # the last cycle had an entry-level error (the user in two role groups)
    assert r.code == 1


def test_job_created_by_another_run_between_our_read_and_our_post_is_reused(sandbox, monkeypatch):
    assert sandbox.cli("mapping").code == 0  # the job exists now
    from natoma_entra.steps import job as job_mod

    async def stale(session, sp_id):  # our read happened before the other run's POST
        return None

    monkeypatch.setattr(job_mod, "_list_and_pick", stale)
    r = sandbox.cli("mapping")
    assert r.code == 0, r.out + r.err
    assert any(w[0] == "POST" and w[1].endswith("/synchronization/jobs") and w[2] == 409 for w in r.requests)
    t = sandbox.tenant()
    assert len(t.state["jobs"][t.find_sp("Natoma")["id"]]) == 1


def test_a_failed_step_does_not_claim_its_changes_were_made(sandbox, monkeypatch):
    sandbox.options.faults[:] = [faults.server_error(500, method="POST", path=r"/appRoleAssignedTo$")]
    r = sandbox.cli("setup")
    assert r.code == 1
    assign = r.out[r.out.index("assign: failed"):r.out.index("mapping:")]
    assert "would create: Natoma Admins -> Admin" in assign and "created:" not in assign


@pytest.mark.parametrize("step,method,path", WRITES)
def test_an_interrupt_after_any_write_exits_130_naming_the_step_and_a_rerun_converges(sandbox, step, method, path):
    """Ctrl-C right after a write went through: exit 130, one line naming the step, a JSON document with ok false,
    what was written is kept, and running the same command again converges."""
    reference = sandbox.reference()
    sandbox.options.faults[:] = [faults.interrupt(method=method, path=path)]
    r = sandbox.cli("setup", "-o", "json")
    assert r.code == 130, r.out + r.err
    assert f"interrupted during {step} (what was written is kept). Fix: run the same command again" in r.err
    doc = r.json()
    assert doc["ok"] is False and doc["exit_code"] == 130
    _rerun_converges(sandbox, reference)
    assert sandbox.cli("setup").writes == []


@pytest.mark.parametrize("step,method,path", WRITES)
def test_a_504_after_a_write_was_applied_converges_without_duplicates(sandbox, step, method, path):
    """A gateway answers 504 to a write that went through (and again to its retry): no duplicate, re-runs converge,
    nothing foreign lost."""
    reference = sandbox.reference()
    sandbox.options.faults[:] = [faults.server_error(504, retry_after=0, method=method, path=path, after=True,
                                                     count=None)]
    sandbox.cli("setup")
    _rerun_converges(sandbox, reference)
    t = sandbox.tenant()
    assert len(t.state["jobs"][t.find_sp("Natoma")["id"]]) == 1
    assert sandbox.cli("setup").writes == []


def test_429_on_every_read_is_bounded_and_says_so(sandbox):
    sandbox.options.faults[:] = [faults.throttle(0, method="GET", count=None)]
    r = sandbox.cli("setup", "-o", "json")
    assert r.code == 1 and r.writes == []
    doc = r.json()
    assert doc["ok"] is False and "throttling" in doc["fix"]
    assert r.err.count("\n") == 1 and "429" in r.err and "Fix:" in r.err  # one line: the request, 429, the fix


@pytest.mark.parametrize("mode", [(), ("-o", "json"), ("--quiet",)])
def test_every_failure_says_one_line_on_stderr_in_every_mode_and_json_ok_agrees(sandbox, mode):
    sandbox.options.faults[:] = [faults.server_error(500, method="PUT", path=r"/schema$")]
    r = sandbox.cli(*mode, "setup")
    assert r.code == 1
    lines = [line for line in r.err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "mapping" in lines[0] and "Fix:" in lines[0]
    if mode == ("-o", "json"):
        doc = r.json()
        assert doc["ok"] is False and doc["exit_code"] == 1 and doc["error"].startswith("mapping:")


def test_strict_failure_agrees_in_text_json_and_exit_code(sandbox):
    sandbox.set_up()
    r = sandbox.cli("--strict", "setup")
    assert r.code == 1 and "nothing to do" not in r.out and "failed: --strict" in r.out
    assert "error: setup: --strict" in r.err
    doc = sandbox.cli("--strict", "setup", "-o", "json").json()
    assert doc["ok"] is False and doc["exit_code"] == 1
