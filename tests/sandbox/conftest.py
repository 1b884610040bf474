"""Fixtures for the simulated Graph: a fresh tenant, its handler, an httpx client over the sync transport."""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace

import httpx
import pytest

from natoma_entra.sandbox.graph import GraphHandler
from natoma_entra.sandbox.state import ACCESS_TOKEN, GRAPH_ROOT, Tenant, group_id, user_id
from natoma_entra.sandbox.transport import SandboxSyncTransport

BASE = GRAPH_ROOT + "/v1.0"
AUTH = {"Authorization": f"Bearer {ACCESS_TOKEN}"}


class Clock:
    """A deterministic clock for rate limits: ``clock.t += 11``."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tenant(clock) -> Tenant:
    return Tenant.initial(clock=clock)


@pytest.fixture
def handler(tenant) -> GraphHandler:
    return GraphHandler(tenant)


@pytest.fixture
def graph(handler):
    with httpx.Client(transport=SandboxSyncTransport(handler), base_url=BASE, headers=AUTH) as client:
        yield client


@pytest.fixture
def ids(tenant) -> SimpleNamespace:
    app, sp = tenant.find_app("Natoma"), tenant.find_sp("Natoma")
    return SimpleNamespace(
        app=app["id"], app_id=app["appId"], sp=sp["id"], tenant=tenant.state["tenantId"],
        admins=group_id("Natoma Admins"), app_admins=group_id("Natoma App Admins"),
        members=group_id("Natoma Members"), contractors=group_id("Natoma Contractors"),
        all_company=group_id("All Company"),
        adele=user_id("Adele Vance"), alex=user_id("Alex Wilber"), megan=user_id("Megan Bowen"),
        lee=user_id("Lee Gu"), diego=user_id("Diego Siciliani"), pradeep=user_id("Pradeep Gupta"),
    )


def natoma_roles(existing: list[dict]) -> list[dict]:
    """The existing roles (origin stripped) plus the three Natoma roles."""
    keep = [{k: v for k, v in r.items() if k != "origin"} for r in existing]
    new = [
        {"id": "11111111-0000-4000-8000-000000000001", "value": "admin", "displayName": "Admin"},
        {"id": "11111111-0000-4000-8000-000000000002", "value": "AppAdmin", "displayName": "App Admin"},
        {"id": "11111111-0000-4000-8000-000000000003", "value": "member", "displayName": "Member"},
    ]
    return keep + [dict(r, allowedMemberTypes=["User"], description=r["displayName"], isEnabled=True) for r in new]


ADMIN_ROLE, APPADMIN_ROLE, MEMBER_ROLE = (f"11111111-0000-4000-8000-00000000000{i}" for i in (1, 2, 3))


@pytest.fixture
def with_roles(graph, ids):
    """The Natoma roles on the app (and, with lag 0, on the SP)."""
    roles = graph.get(f"/applications/{ids.app}").json()["appRoles"]
    r = graph.patch(f"/applications/{ids.app}", json={"appRoles": natoma_roles(roles)})
    assert r.status_code == 204, r.text
    return ids


class FakeEngine:
    """Stands in for engine.py where a test is about the Graph surface, not provisioning."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.valid_token = "sandbox-scim-token"

    def validate_credentials(self, tenant, credentials):
        self.calls.append(("validate", dict(credentials)))
        if credentials.get("SecretToken") != self.valid_token:
            return "The SCIM endpoint answered 401 Unauthorized."
        return None

    def run_cycle(self, tenant, sp_id, job_id):
        self.calls.append(("run_cycle", sp_id, job_id))
        job = tenant.state["jobs"][sp_id][job_id]
        job["status"]["code"] = "Active"

    def provision_on_demand(self, tenant, sp_id, job_id, body):
        self.calls.append(("pod", sp_id, job_id, body))
        return {"key": '{"result":"Success","details":{}}', "value": "{}"}


@pytest.fixture
def fake_engine(monkeypatch) -> FakeEngine:
    import natoma_entra.sandbox as pkg

    fake = FakeEngine()
    module = types.ModuleType("natoma_entra.sandbox.engine")
    for name in ("validate_credentials", "run_cycle", "provision_on_demand"):
        setattr(module, name, getattr(fake, name))
    monkeypatch.setitem(sys.modules, "natoma_entra.sandbox.engine", module)
    monkeypatch.setattr(pkg, "engine", module, raising=False)
    return fake


def error(resp: httpx.Response) -> tuple[int, str, str]:
    body = resp.json()["error"]
    return resp.status_code, body["code"], body["message"]


@pytest.fixture
def helpers() -> SimpleNamespace:
    """Helpers for the test modules (a conftest is not importable by name: tests/conftest.py shares it)."""
    return SimpleNamespace(natoma_roles=natoma_roles, error=error, ADMIN=ADMIN_ROLE, APPADMIN=APPADMIN_ROLE,
                           MEMBER=MEMBER_ROLE, BASE=BASE, AUTH=AUTH)
