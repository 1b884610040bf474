"""The variants of issue 23, as GraphHandler plays them (so `sandbox serve` plays them too), on the tenant's clock:
throttled writes, HTTP-date Retry-After, role-disable lag, empty pages, forward-compatible fields, unreadable secrets;
and the ledger of requests sent again before their Retry-After."""
from __future__ import annotations

import email.utils

import httpx
import pytest

from natoma_entra.sandbox import faults
from natoma_entra.sandbox import options as V
from natoma_entra.sandbox.graph import GraphHandler
from natoma_entra.sandbox.graph_variants import FUTURE_PROPERTY, TIPS
from natoma_entra.sandbox.options import SandboxOptions, SimulatedClock
from natoma_entra.sandbox.state import Tenant
from natoma_entra.sandbox.transport import SandboxSyncTransport


@pytest.fixture
def sim():
    return SimulatedClock()


@pytest.fixture
def make(sim, helpers):
    """make(*variants, faults=[]) -> (client, tenant, handler) over a fresh tenant on the simulated clock."""
    clients = []

    def make_(*variants, faults=()):
        tenant = Tenant.initial(**SandboxOptions(variants=frozenset(variants), clock=sim).tenant_options())
        handler = GraphHandler(tenant)
        client = httpx.Client(transport=SandboxSyncTransport(handler, faults=faults), base_url=helpers.BASE,
                              headers=helpers.AUTH)
        clients.append(client)
        return client, tenant, handler

    yield make_
    for c in clients:
        c.close()


def notes(g, ids, text="x"):
    return g.patch(f"/applications/{ids.app}", json={"notes": text})


def test_throttled_writes_answer_each_write_429_once_and_reads_pass(make, ids, sim):
    g, tenant, handler = make(V.THROTTLED_WRITES)
    first = notes(g, ids)
    assert first.status_code == 429 and first.headers["Retry-After"] == str(V.THROTTLE_SECONDS)
    assert tenant.find_app("Natoma").get("notes") is None  # not applied
    assert g.get(f"/applications/{ids.app}").status_code == 200  # reads are still permitted
    sim.advance(V.THROTTLE_SECONDS)
    assert notes(g, ids).status_code == 204 and tenant.find_app("Natoma")["notes"] == "x"
    assert handler.early == []
    assert notes(g, ids, "y").status_code == 429  # another write: throttled once too


def test_a_request_sent_again_before_its_retry_after_is_recorded(make, ids, sim):
    g, tenant, handler = make(V.THROTTLED_WRITES)
    assert notes(g, ids).status_code == 429
    sim.advance(1)
    assert notes(g, ids).status_code == 429  # too soon: still throttled, and recorded
    assert [(e.method, round(e.too_soon)) for e in handler.early] == [("PATCH", 2)]
    other, _t, handler2 = make(faults=[faults.throttle(5, method="GET", path=r"/groups$")])
    assert other.get("/groups").status_code == 429  # a fault injected by the transport is in the ledger too
    assert other.get("/groups").status_code == 200
    assert [e.path for e in handler2.early] == ["/v1.0/groups"]


def test_retry_after_as_an_http_date_measured_from_the_answers_date(make, ids, sim):
    sim.advance(0.4)  # between two whole seconds: the date is rounded up, never earlier
    g, tenant, handler = make(V.RETRY_AFTER_DATE)
    r = notes(g, ids)
    assert r.status_code == 429
    when = email.utils.parsedate_to_datetime(r.headers["Retry-After"])
    date = email.utils.parsedate_to_datetime(r.headers["Date"])
    assert (when - date).total_seconds() >= V.THROTTLE_SECONDS and when >= tenant.now()
    sim.advance(V.THROTTLE_SECONDS)  # 0.4 s short of the date
    assert notes(g, ids).status_code == 429 and len(handler.early) == 1
    sim.advance(1)
    assert notes(g, ids).status_code == 204


def test_role_disable_lag(make, ids, sim):
    g, tenant, _h = make(V.ROLE_DISABLE_LAG)
    role = {"allowedMemberTypes": ["User"], "description": "d", "displayName": "Admin", "isEnabled": True,
            "id": "11111111-2222-3333-4444-555555555555", "value": "admin"}
    keep = [{k: v for k, v in r.items() if k != "origin"} for r in tenant.find_app("Natoma")["appRoles"]]
    assert g.patch(f"/applications/{ids.app}", json={"appRoles": keep + [role]}).status_code == 204
    assert g.patch(f"/applications/{ids.app}", json={"appRoles": keep + [dict(role, isEnabled=False)]}).status_code == 204
    read = {r["id"]: r for r in g.get(f"/applications/{ids.app}").json()["appRoles"]}
    assert read[role["id"]]["isEnabled"] is True  # another replica has not applied the disable yet
    changed = dict(role, isEnabled=False, displayName="Admin (renamed)")
    refused = g.patch(f"/applications/{ids.app}", json={"appRoles": keep + [changed]})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "CannotDeleteOrUpdateEnabledEntitlement"
    sim.advance(V.ROLE_DISABLE_LAG_SECONDS)
    read = {r["id"]: r for r in g.get(f"/applications/{ids.app}").json()["appRoles"]}
    assert read[role["id"]]["isEnabled"] is False
    assert g.patch(f"/applications/{ids.app}", json={"appRoles": keep + [changed]}).status_code == 204


def walk(g, url):
    pages = []
    while url:
        page = g.get(url).json()
        pages.append(page["value"])
        url = page.get("@odata.nextLink")
    return pages


def test_empty_pages_before_each_page_and_after_the_last(make):
    plain, _t, _h = make()
    g, _t2, _h2 = make(V.EMPTY_PAGES)
    pages = walk(g, "/groups?$top=2")
    assert [len(p) for p in pages] == [0, 2, 0, 2, 0, 1, 0]
    assert [x["id"] for p in pages for x in p] == [x["id"] for p in walk(plain, "/groups?$top=2") for x in p]


def test_forward_compatible_fields(make, ids):
    g, tenant, _h = make(V.FORWARD_COMPATIBLE)
    groups = g.get("/groups").json()
    assert TIPS in groups
    assert all(x["@odata.type"] == "#microsoft.graph.group" and FUTURE_PROPERTY in x for x in groups["value"])
    selected = g.get("/groups", params={"$select": "id,displayName"}).json()["value"]
    assert all(set(x) == {"id", "displayName", "@odata.type"} for x in selected)  # $select: only what was asked
    app = g.get(f"/applications/{ids.app}").json()
    assert all(FUTURE_PROPERTY in r and f"{FUTURE_PROPERTY}@odata.type" in r for r in app["appRoles"])
    assert FUTURE_PROPERTY not in tenant.find_app("Natoma")  # the answer is a copy: the tenant is untouched


def test_unreadable_secrets(make, ids, helpers):
    g, tenant, _h = make(V.SECRETS_UNREADABLE)
    path = f"/servicePrincipals/{ids.sp}/synchronization/secrets"
    assert g.put(path, json={"value": [{"key": "SyncAll", "value": "false"}]}).status_code == 204
    status, code, message = helpers.error(g.get(path))
    assert (status, code) == (404, "UnknownError") and "No HTTP resource was found" in message


def test_sandbox_serve_plays_the_variants(tmp_path):
    """The loopback server answers through the same GraphHandler: a write is throttled, with Date and Retry-After."""
    import threading

    from natoma_entra.sandbox.serve import make_server
    from natoma_entra.sandbox.state import ACCESS_TOKEN

    srv = make_server(tmp_path / "served.json", port=0, options=SandboxOptions(
        variants=frozenset({V.RETRY_AFTER_DATE})))
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        app = srv.tenant.find_app("Natoma")["id"]
        with httpx.Client(base_url=f"http://127.0.0.1:{srv.server_address[1]}/v1.0",
                          headers={"Authorization": f"Bearer {ACCESS_TOKEN}"}) as c:
            r = c.patch(f"/applications/{app}", json={"notes": "x"})
        assert r.status_code == 429
        assert email.utils.parsedate_to_datetime(r.headers["Retry-After"]) > email.utils.parsedate_to_datetime(
            r.headers["Date"])
        assert len(r.headers.get_list("Date")) == 1
    finally:
        srv.shutdown()
        srv.server_close()
