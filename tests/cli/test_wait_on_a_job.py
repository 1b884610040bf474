"""Issue 26: `start --wait` on a job that is running but has never run a cycle waits for that first cycle (it used to
answer "succeeded" at once); a job status that is not an object is said, never an AttributeError; a cycle that
never ends stops with "the cycle had not ended", all on the sandbox's simulated time."""
from __future__ import annotations

import datetime as _dt

import pytest

from natoma_entra.sandbox.options import SimulatedClock

NEVER = "0001-01-01T00:00:00Z"


@pytest.fixture
def running(sandbox):
    """A set-up tenant on simulated time; returns (sandbox, clock, the job's status after its cycle)."""
    assert sandbox.set_up().code == 0
    sandbox.options.clock = clock = SimulatedClock()
    return sandbox, clock


def _job(tenant):
    sp = tenant.find_sp("Natoma")["id"]
    [(job_id, job)] = tenant.state["jobs"][sp].items()
    return sp, job_id, job


def _never_ran(status: dict) -> dict:
    """The status of a job Entra has started and whose first cycle has not begun: Active, no execution yet."""
    return dict(status, code="Active", progress=[], lastExecution=None, lastSuccessfulExecution=None,
                lastSuccessfulExecutionWithExports=None, steadyStateFirstAchievedTime=NEVER,
                steadyStateLastAchievedTime=NEVER, synchronizedEntryCountByType=[])


def test_a_running_job_that_never_ran_a_cycle_is_waited_for_until_its_first_cycle_ends(running):
    sandbox, clock = running
    t = sandbox.tenant()
    sp, job_id, job = _job(t)
    final = job["status"]  # how the job reads once its first cycle ended (Lee Gu: one entry-level error)
    job["status"] = _never_ran(final)
    # the first cycle begins 90 s from now and takes 12 s
    began = (clock.now() + _dt.timedelta(seconds=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    t.state.setdefault("cycles", {})[job_id] = {"spId": sp, "began": began, "seconds": 12.0, "total": 4,
                                                "final": final}
    sandbox.save(t)
    r = sandbox.cli("start", "--wait", "-o", "json")
    assert r.code == 0, r.err
    start, wait = r.json()["steps"]
    assert start["status"] == "unchanged" and r.writes == []  # running: not started again
    assert wait["info"]["outcome"] == "entry_errors", wait  # the first cycle's own ending, not "succeeded"
    assert 102 <= wait["info"]["waited_s"] < 102 + 30  # it began at 90 s and took 12 s (read every <= 30 s)
    assert "provisioning cycle: Active: no cycle has run yet" in r.err  # said while it had not begun


def test_a_first_cycle_that_never_comes_ends_the_wait_at_timeout(running):
    sandbox, clock = running
    t = sandbox.tenant()
    _sp, _job_id, job = _job(t)
    job["status"] = _never_ran(job["status"])
    sandbox.save(t)
    r = sandbox.cli("--timeout", "60", "start", "--wait", "-o", "json")
    assert r.code == 1
    wait = r.json()["steps"][-1]
    assert wait["info"]["outcome"] == "timed_out" and wait["info"]["waited_s"] > 0
    assert wait["error"].startswith("the cycle had not ended after the run's 60 s (--timeout)")
    assert "no cycle has run yet" in wait["error"]


@pytest.mark.parametrize("status,shape", [("Active", "a string"), (["Active"], "a list")])
def test_a_malformed_job_status_is_said_not_a_traceback(running, status, shape):
    sandbox, _clock = running
    t = sandbox.tenant()
    _sp, _job_id, job = _job(t)
    job["status"] = status
    sandbox.save(t)
    r = sandbox.cli("start", "--wait", "-o", "json")
    assert r.code == 1 and "unexpected" not in r.err and "Traceback" not in r.err, r.err
    wait = r.json()["steps"][-1]
    assert wait["step"] == "wait" and wait["status"] == "failed"
    assert f"the job's status is {shape}" in wait["error"] and "doctor" in wait["fix"]
    assert r.err.count("\n") == 2 and r.err.startswith("waiting for the provisioning cycle")  # then the one error
    for command in ("status", "doctor"):  # the other readers of the job's status read it as unknown
        other = sandbox.cli(command)
        assert "unexpected" not in other.err and other.code in (0, 1, 3), other.err


def test_a_cycle_that_never_ends_stops_with_the_cycle_had_not_ended(running):
    sandbox, _clock = running
    sandbox.options.cycle_seconds_per_user = 3600.0  # an endless cycle
    r = sandbox.cli("--timeout", "45", "start", "--restart", "--wait", "-o", "json")
    assert r.code == 1
    wait = r.json()["steps"][-1]
    assert wait["info"]["outcome"] == "timed_out"
    assert wait["error"].startswith("the cycle had not ended after the run's 45 s (--timeout)")
    assert "time budget" not in wait["error"] and "time budget" not in r.err
