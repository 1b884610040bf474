"""`start --wait` and `setup --wait`: follow the provisioning cycle until it ends, on the sandbox's simulated time."""
from __future__ import annotations

from natoma_entra.sandbox.options import SimulatedClock
from natoma_entra.sandbox.state import NATOMA_TOKEN


def _slow_cycles(sandbox):
    sandbox.options.clock = SimulatedClock()
    sandbox.options.cycle_seconds_per_user = 30.0  # a cycle takes simulated minutes, and reports progress


def test_setup_wait_follows_the_cycle_to_its_end_and_says_how_it_went(sandbox, monkeypatch):
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    _slow_cycles(sandbox)
    r = sandbox.cli("setup", "--wait", "-o", "json")
    assert r.code == 0, r.err
    doc = r.json()
    wait = doc["steps"][-1]
    assert wait["step"] == "wait" and wait["info"]["outcome"] == "entry_errors"  # Lee Gu: two role groups
    assert wait["info"]["waited_s"] > 0  # the cycle took (simulated) time and was waited for
    assert "waiting for the provisioning cycle to end (at most 300 s" in r.err
    assert "provisioning cycle: Active:" in r.err  # progress while it ran, without a terminal: lines
    assert any("user(s) failed" in w and "logs --errors" in w for w in doc["warnings"])
    # --strict makes the failed users fail the run
    assert sandbox.cli("--strict", "start", "--restart", "--wait").code == 1


def test_a_quarantined_cycle_exits_1_with_the_reason_and_the_fix(sandbox, monkeypatch):
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    assert sandbox.set_up().code == 0
    t = sandbox.tenant()  # Natoma's token was revoked: the next cycle cannot reach the endpoint
    sp_id = t.find_sp("Natoma")["id"]
    t.state["secrets"][sp_id] = [dict(s, value="revoked-token") if s["key"] == "SecretToken" else s
                                 for s in t.state["secrets"][sp_id]]
    sandbox.save(t)
    r = sandbox.cli("start", "--restart", "--wait", "-o", "json")
    assert r.code == 1, r.out
    wait = r.json()["steps"][-1]
    assert wait["step"] == "wait" and wait["status"] == "failed" and wait["info"]["outcome"] == "quarantined"
    assert "natoma-entra credentials --rotate" in wait["fix"]
    assert "error: start: wait:" in r.err  # one line on stderr naming the step, the reason and the fix


def test_the_wait_is_bounded_by_timeout(sandbox, monkeypatch):
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    _slow_cycles(sandbox)
    sandbox.options.cycle_seconds_per_user = 3600.0  # an endless cycle
    r = sandbox.cli("--timeout", "60", "setup", "--wait", "-o", "json")
    assert r.code == 1
    wait = r.json()["steps"][-1]
    assert wait["info"]["outcome"] == "timed_out" and "60 s" in wait["error"] and "--timeout" in wait["fix"]


def test_dry_run_never_waits(sandbox):
    r = sandbox.cli("--dry-run", "setup", "--wait", "-o", "json")
    assert r.code == 0 and [s["step"] for s in r.json()["steps"]][-1] == "start" and r.writes == []
