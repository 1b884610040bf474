"""Fault injection in the sandbox transports: latency, 429 + Retry-After, 5xx, dropped connections."""

import asyncio
import time

import httpx
import pytest

from natoma_entra.sandbox import faults, make_transport
from natoma_entra.sandbox.state import ACCESS_TOKEN, GRAPH_ROOT

BASE = GRAPH_ROOT + "/v1.0"
AUTH = {"Authorization": f"Bearer {ACCESS_TOKEN}"}


def client(*rules):
    transport = make_transport(faults=rules, sync=True)
    return transport, httpx.Client(transport=transport, base_url=BASE, headers=AUTH)


def test_throttle_on_nth_matching_request_then_stops():
    transport, c = client(faults.throttle(7, method="GET", path=r"/groups$", nth=2, count=2))
    assert c.get("/users").status_code == 200  # does not match
    assert c.get("/groups").status_code == 200  # 1st match
    r = c.get("/groups")
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    assert r.json()["error"]["code"] == "TooManyRequests"
    assert c.get("/groups").status_code == 429
    assert c.get("/groups").status_code == 200  # fired twice: done
    assert [e[2] for e in transport.log] == [200, 200, 429, 429, 200]
    assert len(transport.handler.log) == 3  # throttled requests never reached the tenant


def test_server_error():
    transport, c = client(faults.server_error(503, retry_after=2, path="/servicePrincipals"))
    r = c.get("/servicePrincipals")
    assert r.status_code == 503 and r.headers["Retry-After"] == "2"
    assert c.get("/servicePrincipals").status_code == 200


def test_drop_before_the_tenant_sees_it():
    transport, c = client(faults.drop(method="POST", path="/synchronization/jobs$"))
    sp = transport.tenant.find_sp("Natoma")["id"]
    with pytest.raises(httpx.ConnectError):
        c.post(f"/servicePrincipals/{sp}/synchronization/jobs", json={"templateId": "scim"})
    assert transport.tenant.state["jobs"] == {}
    assert c.post(f"/servicePrincipals/{sp}/synchronization/jobs", json={"templateId": "scim"}).status_code == 201


def test_drop_after_the_write_happened():
    transport, c = client(faults.drop(after=True, method="POST", path="/synchronization/jobs$"))
    sp = transport.tenant.find_sp("Natoma")["id"]
    with pytest.raises(httpx.RemoteProtocolError):
        c.post(f"/servicePrincipals/{sp}/synchronization/jobs", json={"templateId": "scim"})
    assert len(transport.tenant.state["jobs"][sp]) == 1  # applied, but the client never heard
    assert c.post(f"/servicePrincipals/{sp}/synchronization/jobs", json={"templateId": "scim"}).status_code == 409


def test_latency_sync():
    _, c = client(faults.latency(0.05, path="/users"))
    t0 = time.perf_counter()
    c.get("/users")
    c.get("/users")
    assert time.perf_counter() - t0 >= 0.1
    t0 = time.perf_counter()
    c.get("/groups")
    assert time.perf_counter() - t0 < 0.05


def test_latency_async_overlaps():
    transport = make_transport(faults=[faults.latency(0.2)])

    async def main():
        async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=AUTH) as c:
            t0 = time.perf_counter()
            rs = await asyncio.gather(*(c.get(p) for p in ("/users", "/groups", "/servicePrincipals")))
            return time.perf_counter() - t0, [r.status_code for r in rs]

    elapsed, statuses = asyncio.run(main())
    assert statuses == [200, 200, 200]
    assert 0.2 <= elapsed < 0.5  # concurrent, not 0.6 s


def test_async_throttle():
    transport = make_transport(faults=[faults.throttle(1)])

    async def main():
        async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=AUTH) as c:
            return (await c.get("/users")).status_code, (await c.get("/users")).status_code

    assert asyncio.run(main()) == (429, 200)
