"""job_watch.follow against the sandbox's provisioning cycle, on simulated time (nothing really sleeps)."""
from __future__ import annotations

import asyncio

import pytest

from natoma_entra import job_watch


@pytest.fixture
def started(sandbox):
    """setup on a sandbox whose cycles take 3 simulated seconds per user in scope (4 users: 12 s)."""
    from natoma_entra.sandbox.options import SimulatedClock

    sandbox.options.clock = clock = SimulatedClock()
    sandbox.options.cycle_seconds_per_user = 3.0
    started_at = clock.now()
    assert sandbox.cli("setup").code == 0
    return sandbox, clock, started_at


def reader(sandbox, clock):
    """read_job over the sandbox's Graph handler, on the shared simulated clock."""
    import httpx

    from natoma_entra.sandbox import ACCESS_TOKEN, make_transport
    from natoma_entra.sandbox.state import Tenant

    tenant = Tenant.load(sandbox.path, clock=clock.monotonic, now=clock.now)
    tenant.cycle_seconds_per_user = 3.0
    transport = make_transport(tenant, sync=True)
    client = httpx.Client(transport=transport, base_url="https://graph.microsoft.com/v1.0",
                          headers={"Authorization": f"Bearer {ACCESS_TOKEN}"})
    sp = tenant.find_sp()["id"]
    [job_id] = tenant.state["jobs"][sp]
    path = f"/servicePrincipals/{sp}/synchronization/jobs/{job_id}"

    async def read_job():
        return client.get(path).json()

    return read_job, tenant, client, path


def test_the_cycle_is_followed_to_its_end_with_progress(started):
    sandbox, clock, started_at = started
    read_job, tenant, _, _ = reader(sandbox, clock)
    first = job_watch.summarize(asyncio.run(read_job()))
    assert first["code"] == "Active" and first["total"] == 4 and first["completed"] == 0  # running, not done
    seen = []
    out = asyncio.run(job_watch.follow(read_job, started_at=started_at, sleep=clock.sleep, clock=clock.monotonic,
                                       on_progress=seen.append, on_change=True))
    # Lee Gu is in two role groups: the cycle ends with one entry-level error (MultipleGrantsNotSupported)
    assert out.state == job_watch.ENTRY_ERRORS and "1 user(s) failed" in out.reason
    assert out.summary["synchronized"] == 3 and out.summary["failedEntries"] == 1
    assert 12 <= clock.t < 12 + max(job_watch.DELAYS)  # it ended when the cycle's simulated 12 s had passed
    completed = [s["completed"] for s in seen if s["completed"] is not None]
    assert completed == sorted(completed) and len(set(completed)) >= 3  # progress grew, told on each change


def test_progress_is_told_at_most_every_10_seconds_when_not_at_a_terminal(started):
    sandbox, clock, started_at = started
    read_job, *_ = reader(sandbox, clock)
    told = []
    asyncio.run(job_watch.follow(read_job, started_at=started_at, sleep=clock.sleep, clock=clock.monotonic,
                                 on_progress=lambda s: told.append(clock.t)))
    assert told[0] == 0 and all(b - a >= 10 for a, b in zip(told, told[1:]))


def test_a_clean_cycle_succeeds(sandbox):
    from natoma_entra.sandbox.options import SimulatedClock
    from natoma_entra.sandbox.state import Tenant, group_id, user_id

    t = Tenant.load(sandbox.path)
    t.state["members"][group_id("Natoma Members")].remove(user_id("Lee Gu"))
    t.save(sandbox.path)
    sandbox.options.clock = clock = SimulatedClock()
    sandbox.options.cycle_seconds_per_user = 3.0
    started_at = clock.now()
    assert sandbox.cli("setup").code == 0
    read_job, *_ = reader(sandbox, clock)
    out = asyncio.run(job_watch.follow(read_job, started_at=started_at, sleep=clock.sleep, clock=clock.monotonic))
    assert out.ok and out.state == job_watch.SUCCEEDED and out.summary["steadyState"] is not None


def test_quarantine_ends_the_wait_with_the_reason(started):
    sandbox, clock, started_at = started
    read_job, tenant, client, path = reader(sandbox, clock)
    sp = tenant.find_sp()["id"]
    tenant.state["secrets"][sp] = [s if s["key"] != "SecretToken" else {"key": "SecretToken", "value": "wrong"}
                                   for s in tenant.state["secrets"][sp]]
    clock.advance(60)
    assert client.post(f"{path}/restart", json={"criteria": {"resetScope": "Full"}}).status_code == 204
    out = asyncio.run(job_watch.follow(read_job, started_at=clock.now(), sleep=clock.sleep, clock=clock.monotonic))
    assert out.state == job_watch.QUARANTINED and "401" in out.reason and "credentials" in out.fix


def test_a_cycle_that_never_ends_times_out(started):
    sandbox, clock, started_at = started
    _, tenant, client, path = reader(sandbox, clock)

    async def stuck():  # always the first reading: a cycle that stays at 0 of 4
        return {"status": {"code": "Active", "progress": [{"completedUnits": 0, "totalUnits": 4}]}}

    out = asyncio.run(job_watch.follow(stuck, started_at=started_at, timeout=120, sleep=clock.sleep,
                                       clock=clock.monotonic))
    assert out.state == job_watch.TIMED_OUT and out.elapsed >= 120 and "0 of 4" in out.reason


def test_summaries_of_graph_shaped_status():
    s = job_watch.summarize({"status": {"code": "Active", "progress": [], "lastExecution": {
        "state": "Succeeded", "timeBegan": "2026-01-05T09:00:00Z", "timeEnded": "2026-01-05T09:05:00Z"},
        "synchronizedEntryCountByType": [{"key": "User", "value": 7}],
        "steadyStateLastAchievedTime": "0001-01-01T00:00:00Z"}})
    assert (s["executionState"], s["synchronized"], s["steadyState"]) == ("Succeeded", 7, None)
    assert job_watch.describe(s) == "Active: 7 synchronized, last cycle Succeeded"


def test_graph_times_are_read_with_their_offset_and_seven_fractional_digits():
    """Graph's dateTimeOffset through Python 3.11's fromisoformat (issue 26): "Z", an offset, .NET's 7 digits."""
    import datetime as dt

    utc = dt.timezone.utc
    parse = job_watch.parse_time
    assert parse("2026-11-28T15:11:27.0149260Z") == dt.datetime(2026, 11, 28, 15, 11, 27, 14926, tzinfo=utc)
    assert parse("2026-11-28T16:11:27.5+01:00") == dt.datetime(2026, 11, 28, 15, 11, 27, 500000, tzinfo=utc)
    assert parse("2026-11-28T15:11:27") == dt.datetime(2026, 11, 28, 15, 11, 27, tzinfo=utc)  # no offset: UTC
    assert parse("0001-01-01T00:00:00Z") is None and parse("yesterday") is None and parse(None) is None
