"""`natoma-entra start` against the sandbox: start only when not running, restart with a reset scope, the state after."""
from __future__ import annotations

import pytest

from natoma_entra.sandbox.state import NATOMA_TOKEN


@pytest.fixture
def configured(sandbox, monkeypatch):
    """A sandbox whose app has a job with saved credentials (credentials run alone creates the job)."""
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    assert sandbox.cli("credentials").code == 0
    monkeypatch.delenv("NATOMA_SCIM_TOKEN")
    return sandbox


@pytest.fixture
def bodies(monkeypatch):
    """The JSON bodies our Graph client sends, by (method, path)."""
    from natoma_entra.graph.client import GraphClient

    sent: list[tuple[str, str, object]] = []
    original = GraphClient.request

    async def spy(self, method, path, body=None, **kw):
        sent.append((method, path, body))
        return await original(self, method, path, body, **kw)

    monkeypatch.setattr(GraphClient, "request", spy)
    return sent


def job(sandbox) -> dict:
    t = sandbox.tenant()
    (j,) = t.state["jobs"][t.find_sp()["id"]].values()
    return j


def set_job(sandbox, code: str, schedule: str, quarantine=None) -> None:
    t = sandbox.tenant()
    (j,) = t.state["jobs"][t.find_sp()["id"]].values()
    j["status"]["code"] = code
    j["schedule"]["state"] = schedule
    j["status"]["quarantine"] = quarantine
    sandbox.save(t)


def actions(result) -> list[str]:
    return [p.split("?")[0].rsplit("/", 1)[-1] for m, p, _ in result.writes]


def test_no_job_says_run_mapping(sandbox):
    r = sandbox.cli("start")
    assert r.code == 1
    assert "no provisioning job" in r.out and "run natoma-entra mapping (or setup)" in r.out
    assert r.writes == []


def test_job_without_credentials_says_run_credentials(sandbox):
    # create the job only (what mapping does), through the steps' own create_job
    import asyncio

    from natoma_entra.config import Config
    from natoma_entra.session import Session
    from natoma_entra.steps.job import create_job

    backend = sandbox.backend().with_flags(state=sandbox.path, variants=frozenset())
    config = Config.model_validate(backend.config_defaults())

    async def make(conn):
        session = Session(graph=conn.graph, config=config, clock=backend.clock, waits=backend.waits, scim=conn.scim)
        try:
            return await create_job(session, "scim", [])
        finally:
            await session.graph.close()

    with backend.connect(config, read_only=False, deadline=None, on_wait=print) as conn:  # saved when it ends
        created, _, _ = asyncio.run(make(conn))
    assert created["id"] in job(sandbox)["id"]
    r = sandbox.cli("start", "--output", "json")
    assert r.code == 1
    step = r.json()["steps"][0]
    assert step["status"] == "failed" and step["fix"] == "run natoma-entra credentials first"
    assert r.writes == []


def test_start_then_leave_running_job_alone(configured):
    assert job(configured)["status"]["code"] == "NotConfigured"
    r = configured.cli("start", "--output", "json")
    assert r.code == 0, r.err
    assert actions(r) == ["start"]
    info = r.json()["steps"][0]["info"]
    assert info["state"] == "started" and info["schedule"] == "Active"
    assert info["status"] in ("Active", "NotRun")
    assert info["last_cycle"] and info["last_cycle_time"]
    again = configured.cli("start", "--output", "json")
    assert again.code == 0 and again.writes == []  # Microsoft: do not call start on a running job
    step = again.json()["steps"][0]
    assert step["status"] == "unchanged" and step["info"]["state"] == "running"


@pytest.mark.parametrize("code, schedule", [("Paused", "Paused"), ("Active", "Disabled"), ("NotRun", "Paused")])
def test_start_when_not_running(configured, code, schedule):
    assert configured.cli("start").code == 0
    set_job(configured, code, schedule)
    r = configured.cli("start")
    assert r.code == 0, r.err
    assert actions(r) == ["start"]
    assert job(configured)["schedule"]["state"] == "Active"


def test_quarantine_is_started_and_its_reason_shown(configured):
    assert configured.cli("start").code == 0
    set_job(configured, "Quarantine", "Active", {"reason": "EncounteredQuarantineException", "currentBegan": "2024-01-01T00:00:00Z",
                                                  "error": {"code": "X", "message": "too many errors"}})
    r = configured.cli("start", "--dry-run")
    assert r.code == 0 and r.writes == []
    assert "EncounteredQuarantineException: too many errors" in r.out
    r = configured.cli("start")
    assert r.code == 0 and actions(r) == ["start"]
    assert job(configured)["status"]["quarantine"] is None


def test_dry_run_writes_nothing(configured):
    r = configured.cli("start", "--dry-run", "--output", "json")
    assert r.code == 0
    assert r.json()["steps"][0]["status"] == "planned"
    assert r.writes == [] and job(configured)["schedule"]["state"] == "Disabled"


def test_restart_with_the_default_reset_scope(configured, bodies):
    assert configured.cli("start").code == 0
    r = configured.cli("start", "--restart", "--output", "json")
    assert r.code == 0, r.err
    assert actions(r) == ["restart"]
    sent = [b for m, p, b in bodies if p.endswith("/restart")]
    assert sent == [{"criteria": {"resetScope": "Watermark, Escrows, QuarantineState"}}]
    info = r.json()["steps"][0]["info"]
    assert info["state"] == "restarted" and info["schedule"] == "Active"


def test_restart_with_a_chosen_reset_scope(configured, bodies):
    r = configured.cli("start", "--restart", "--reset-scope", "full,forcedeletes")
    assert r.code == 0, r.err
    assert [b for m, p, b in bodies if p.endswith("/restart")] == [{"criteria": {"resetScope": "Full, ForceDeletes"}}]


@pytest.mark.parametrize("args", [["--reset-scope", "Full"], ["--restart", "--reset-scope", "None"],
                                  ["--restart", "--reset-scope", "Everything"]])
def test_bad_reset_scope_is_a_usage_error(configured, args):
    r = configured.cli("start", *args)
    assert r.code == 2 and r.requests == []


def test_restart_with_force_deletes_warns(sandbox):
    assert sandbox.set_up().code == 0
    r = sandbox.cli("--dry-run", "start", "--restart", "--reset-scope", "ForceDeletes", "--output", "json")
    assert r.code == 0 and r.writes == []
    assert any("delete or disable accounts in Natoma" in w for w in r.json()["warnings"])
