"""Issue 23: Graph throttles writes and lags behind them; every write survives both, through one retry mechanism
(graph/retry.py). Each run here is on the tenant's simulated clock: the waits are real waits of the CLI, but cost
no time, and the sandbox records any request sent again before the Retry-After it was given (CliResult.early)."""
from __future__ import annotations

import pytest

from natoma_entra.sandbox import faults
from natoma_entra.sandbox import options as V

REAL_POLL_DELAYS = (0.2, 0.5, 1, 2, 3, 5, 5, 8, 10, 15, 20)


@pytest.fixture
def timed(sandbox):
    """The sandbox on a simulated clock (sandbox.clock), with Graph's replication waits as a real run makes them."""
    from natoma_entra.sandbox.clock import VirtualClock
    from natoma_entra.waits import Waits

    sandbox.clock = sandbox.options.clock = VirtualClock()
    sandbox.waits = Waits(poll=REAL_POLL_DELAYS)
    return sandbox


def statuses(r, method, suffix):
    return [q[2] for q in r.requests if q[0] == method and q[1].split("?")[0].endswith(suffix)]


def test_a_429_on_post_jobs_and_on_start_is_waited_out(timed):
    """Both were sent with retries off, so a 429 failed setup ("Graph asked to wait 3 s; run the command again")."""
    timed.options.faults[:] = [faults.throttle(3, method="POST", path=r"/synchronization/jobs$"),
                               faults.throttle(3, method="POST", path=r"/start$")]
    r = timed.cli("setup")
    assert r.code == 0, r.out + r.err
    assert statuses(r, "POST", "/synchronization/jobs") == [429, 201]
    assert statuses(r, "POST", "/start") == [429, 204]
    assert r.early == [] and timed.clock.slept.count(3.0) == 2  # after Retry-After, never before
    t = timed.tenant()
    assert len(t.state["jobs"][t.find_sp("Natoma")["id"]]) == 1


def test_an_http_date_retry_after_is_honoured(timed):
    """RFC 9110 10.2.3: Retry-After may be an HTTP-date. It used to be read as absent: a 1 s backoff, so the write
    came again before the moment Graph named."""
    timed.options.variants = frozenset({V.RETRY_AFTER_DATE})
    r = timed.cli("roles")
    assert r.code == 0, r.out + r.err
    assert statuses(r, "PATCH", "") == [429, 204]
    assert r.early == []
    assert "with 429; waiting" in r.err  # a date some seconds ahead: a wait over 2 s, said


def _drift_the_member_role(sandbox):
    assert sandbox.cli("roles").code == 0
    t = sandbox.tenant()
    member = next(r for r in t.find_app("Natoma")["appRoles"] if r.get("value") == "member")
    member["displayName"] = "Members (old)"
    sandbox.save(t)


def test_the_change_after_a_disable_waits_until_graph_has_applied_the_disable(timed):
    """Right after the disable PATCH the role still reads enabled and the change answers 400
    CannotDeleteOrUpdateEnabledEntitlement; the CLI used to stop with a Fix telling the user to do what it had just
    done, leaving the role disabled."""
    _drift_the_member_role(timed)
    timed.options.variants = frozenset({V.ROLE_DISABLE_LAG})
    r = timed.cli("roles")
    assert r.code == 0, r.out + r.err
    patches = statuses(r, "PATCH", "")
    assert patches[0] == 204 and patches[-1] == 204 and 400 in patches[1:-1], patches
    assert "Graph answered 400 (the disabled role still reads enabled); retrying for at most" in r.err
    member = next(r for r in timed.tenant().find_app("Natoma")["appRoles"] if r.get("value") == "member")
    assert member["displayName"] == "Member" and member["isEnabled"] is True


def test_when_the_disable_is_not_applied_in_time_the_fix_says_so_truly(timed):
    from natoma_entra.waits import Waits

    _drift_the_member_role(timed)
    timed.options.variants = frozenset({V.ROLE_DISABLE_LAG})
    timed.waits = Waits(poll=(1, 1))  # a bound shorter than the lag
    r = timed.cli("roles", "-o", "json")
    assert r.code == 1
    doc = r.json()
    roles = next(s for s in doc["steps"] if s["step"] == "roles")
    assert "CannotDeleteOrUpdateEnabledEntitlement" in roles["error"]
    assert roles["fix"].startswith("Graph has not applied the disable after 2 s; run the command again")
    again = timed.cli("roles")  # the disable has been applied by now: the next run changes the role
    assert again.code == 0, again.out + again.err


@pytest.mark.parametrize("suffix", ["/synchronization/jobs", "/appRoleAssignedTo", "/start"])
def test_a_504_after_a_create_was_applied_is_re_read_not_repeated(timed, suffix):
    """A gateway answers 504 to a write that went through (Retry-After 0): the CLI reads before it repeats, so it
    goes on with what Graph made and never makes a second one."""
    timed.options.faults[:] = [faults.server_error(504, retry_after=0, method="POST", path=suffix + "$", after=True)]
    r = timed.cli("setup")
    assert r.code == 0, r.out + r.err
    assert statuses(r, "POST", suffix)[0] == 504
    if suffix != "/appRoleAssignedTo":  # (three assignments go out: one got the 504)
        assert statuses(r, "POST", suffix) == [504]  # found applied by the re-read: not sent again
    t = timed.tenant()
    sp = t.find_sp("Natoma")["id"]
    assert len(t.state["jobs"][sp]) == 1
    assert len([a for a in t.state["appRoleAssignments"].values() if a["resourceId"] == sp]) == 3
    assert timed.cli("setup").writes == []


def upserts(r) -> list:
    """The statuses of the group upserts (PATCH /groups(uniqueName='...'): steps/groups.py)."""
    return [q[2] for q in r.requests if q[0] == "PATCH" and "/groups(uniqueName=" in q[1]]


def test_a_504_after_the_group_upsert_was_applied_makes_no_twin(timed):
    timed.options.faults[:] = [faults.server_error(504, retry_after=0, method="PATCH", path=r"/groups\(uniqueName=",
                                                   after=True)]
    r = timed.cli("setup", "--create-groups", "--group", "admin=Brand New Admins",
                  "--group", "AppAdmin=Natoma App Admins", "--group", "member=Natoma Members")
    assert r.code == 0, r.out + r.err
    assert upserts(r) == [504, 204]  # sent again (one key: no second group), then read by its uniqueName
    named = [g for g in timed.tenant().state["groups"].values() if g["displayName"] == "Brand New Admins"]
    assert len(named) == 1


def test_a_504_after_instantiate_was_applied_makes_no_second_app(timed):
    assert timed.cli("sandbox", "reset", "--empty").code == 0
    timed.options.faults[:] = [faults.server_error(504, retry_after=0, method="POST", path=r"/instantiate$",
                                                   after=True)]
    r = timed.cli("app", "create", "Natoma")
    assert r.code == 0, r.out + r.err
    assert statuses(r, "POST", "/instantiate") == [504]
    assert len(timed.tenant().state["servicePrincipals"]) == 1


def test_a_group_named_in_another_case_is_the_same_group(sandbox):
    """Graph's `eq` compares names case-insensitively: "natoma admins" is the group "Natoma Admins", and
    --create-groups does not make a case-variant twin of it, nor of a name given twice in two spellings."""
    r = sandbox.cli("setup", "--create-groups", "--group", "admin=natoma admins", "--group", "admin=Brand New Team",
                    "--group", "admin=brand new team", "--group", "AppAdmin=Natoma App Admins",
                    "--group", "member=Natoma Members")
    assert r.code == 0, r.out + r.err
    assert upserts(r) == [201]  # "Brand New Team" once; "natoma admins" exists
    names = sorted(g["displayName"] for g in sandbox.tenant().state["groups"].values())
    assert names.count("Natoma Admins") == 1 and [n.lower() for n in names].count("brand new team") == 1


def test_one_name_in_two_spellings_for_two_roles_is_refused(sandbox):
    r = sandbox.cli("assign", "--create-groups", "--group", "admin=Brand New Team", "--group", "member=brand new team")
    assert r.code == 2 and "configured for two roles" in r.err and r.writes == []


def test_unreadable_secrets_setup_works_and_status_doctor_export_say_unconfirmed(sandbox):
    sandbox.options.variants = frozenset({V.SECRETS_UNREADABLE})
    assert sandbox.cli("setup").code == 0
    again = sandbox.cli("setup")
    assert again.code == 0 and again.writes == []  # the connection test confirms what cannot be read back
    status = sandbox.cli("status", "--exit-code", "-o", "json")
    assert status.code == 0
    cred = next(s for s in status.json()["steps"] if s["step"] == "credentials")
    assert "cannot be read back" in cred["info"]["unconfirmed"]
    doctor = sandbox.cli("doctor", "-o", "json")
    check = next(s for s in doctor.json()["steps"] if s["step"] == "credentials")
    assert check["info"]["verdict"] == "warn" and "cannot be read back" in str(check)
    export = sandbox.cli("export")
    assert export.code == 0 and "set scim.url and scim.scope by hand" in export.out


def test_bootstrap_and_teardown_survive_throttled_writes(timed):
    """Every write of a bare tenant's bootstrap (instantiate, its mark, POST /groups, ...) and of teardown (DELETE)
    is answered 429 once: each is waited out, none repeated early, nothing made twice."""
    assert timed.cli("sandbox", "reset", "--empty").code == 0
    timed.options.variants = frozenset({V.THROTTLED_WRITES})
    up = timed.cli("setup", "--create-app", "--create-groups")
    assert up.code == 0, up.out + up.err
    assert {q[0] for q in up.requests if q[2] == 429} == {"POST", "PATCH", "PUT"} and up.early == []
    t = timed.tenant()
    assert len(t.state["servicePrincipals"]) == 1
    assert sorted(g["displayName"] for g in t.state["groups"].values()
                  if "natoma-entra" in (g.get("description") or "")) == ["Natoma Admins", "Natoma App Admins",
                                                                          "Natoma Members"]
    down = timed.cli("teardown", "--yes", "--delete-app", "--delete-groups")
    assert down.code == 0, down.out + down.err
    assert 429 in [q[2] for q in down.requests if q[0] == "DELETE"] and down.early == []
    assert not timed.tenant().state["servicePrincipals"]
