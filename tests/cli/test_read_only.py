"""status, doctor, logs, audit and every dry run write nothing, by construction: their Graph client refuses any write
but the read-only POST (validateCredentials). Proved against a sandbox in which every write fails
loudly, so a write that slipped through would show in the exit code and the request log."""
from __future__ import annotations

import asyncio

import pytest

from natoma_entra.sandbox import faults
from natoma_entra.sandbox.state import NATOMA_TOKEN

WRITE = r"^(?!.*/validateCredentials$)"  # every path but the read-only POST


def writes_raise(sandbox):
    sandbox.options.faults[:] = [faults.drop(method=m, path=WRITE, count=None) for m in ("POST", "PUT", "PATCH",
                                                                                         "DELETE")]


@pytest.mark.parametrize("args, code", [
    (("status",), 0), (("--exit-code", "status"), 0), (("doctor",), 1), (("logs",), 0), (("audit",), 0),
    (("--dry-run", "setup"), 0), (("--dry-run", "roles", "--prune"), 0), (("--dry-run", "assign", "--prune"), 0),
    (("--dry-run", "mapping", "--multi-role"), 0), (("--dry-run", "credentials", "--rotate"), 0),
    (("--dry-run", "start", "--restart"), 0), (("--dry-run", "provision", "AdeleV@contoso.onmicrosoft.com"), 0),
])
def test_read_only_runs_send_no_write_even_where_every_write_would_fail(sandbox, monkeypatch, args, code):
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    assert sandbox.set_up().code == 0
    before = sandbox.path.read_bytes()
    writes_raise(sandbox)
    r = sandbox.cli(*args)
    assert r.code == code, r.out + r.err  # doctor: 1 for the sandbox's deliberate problems (Lee Gu, Pradeep)
    assert r.writes == [] and "dropped" not in [q[2] for q in r.requests]
    assert sandbox.path.read_bytes() == before  # and the state file is not rewritten


def test_a_dry_run_on_a_fresh_tenant_plans_every_step_and_sends_no_write(sandbox):
    writes_raise(sandbox)
    r = sandbox.cli("--dry-run", "--exit-code", "setup", "-o", "json")
    assert r.code == 3 and r.writes == []
    assert [s["status"] for s in r.json()["steps"]] == ["planned"] * 5


def test_the_read_only_client_refuses_a_write_before_sending_it():
    from natoma_entra.graph.auth import StaticTokenCredential
    from natoma_entra.graph.client import GraphClient
    from natoma_entra.graph.readonly import WriteRefused
    from natoma_entra.sandbox.transport import SandboxTransport

    transport = SandboxTransport()
    graph = GraphClient(StaticTokenCredential("t"), "https://graph.microsoft.com/v1.0", transport=transport)
    graph.read_only = True

    async def go():
        try:
            with pytest.raises(WriteRefused):
                await graph.patch("/applications/x", {"appRoles": []})
            with pytest.raises(WriteRefused):
                await graph.post("/servicePrincipals/x/synchronization/jobs", {"templateId": "scim"})
        finally:
            await graph.close()

    asyncio.run(go())
    assert transport.log == []  # nothing reached the tenant
