"""The Graph client counts a request as done only on an answer shaped like Graph's, and every wait is bounded:
retries on 429/503/504 after Retry-After, within the run's budget (--timeout), said when longer than 2 s."""
from __future__ import annotations

import asyncio

import httpx
import pytest

from natoma_entra.graph.auth import StaticTokenCredential
from natoma_entra.graph.client import GraphClient
from natoma_entra.graph.errors import GraphError

BASE = "https://graph.microsoft.com/v1.0"
JSON = {"Content-Type": "application/json"}


class Scripted(httpx.AsyncBaseTransport):
    """Answers each request with the next scripted (status, headers, body); the last one repeats."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.seen: list[str] = []

    async def handle_async_request(self, request):
        self.seen.append(f"{request.method} {request.url.path}")
        status, headers, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return httpx.Response(status, headers=headers, content=body, request=request)


class Stalled(httpx.AsyncBaseTransport):
    """A server that accepts the request and never finishes answering (a trickle that never ends)."""

    async def handle_async_request(self, request):
        await asyncio.Event().wait()


def client(transport, **kw):
    c = GraphClient(StaticTokenCredential("fake-graph-token-for-client-tests"), BASE, transport=transport, **kw)
    c.slept = []

    async def sleep(seconds):
        c.slept.append(seconds)

    c._sleep = sleep  # see the waits without waiting
    return c


def call(c, method, *args, **kw):
    async def go():
        try:
            return await getattr(c, method)(*args, **kw)
        finally:
            await c.close()
    return asyncio.run(go())


# -- answers that must not count -------------------------------------------------------------------------------------

@pytest.mark.parametrize("method,args,answer,kind", [
    ("post", ("/servicePrincipals/sp1/appRoleAssignedTo", {"x": 1}), (200, {"Content-Type": "text/html"}, b"<html>Sign in to the proxy</html>"), "HTML"),
    ("post", ("/servicePrincipals/sp1/appRoleAssignedTo", {"x": 1}), (201, {}, b"<!doctype html><p>hi"), "HTML"),
    ("post", ("/servicePrincipals/sp1/appRoleAssignedTo", {"x": 1}), (201, JSON, b""), "an empty answer"),
    ("post", ("/servicePrincipals/sp1/appRoleAssignedTo", {"x": 1}), (201, JSON, b"[1, 2]"), "not an object"),
    ("patch", ("/applications/a1", {"x": 1}), (200, {"Content-Type": "text/plain"}, b"OK"), "non-JSON"),
    ("get", ("/servicePrincipals/sp1",), (200, JSON, b'{"id": "sp1", "appRoles": [{"id": '), "truncated"),
    ("get", ("/servicePrincipals/sp1",), (200, JSON, b""), "an empty answer"),
    ("get", ("/servicePrincipals/sp1",), (200, JSON, b'"just a string"'), "not an object"),
    ("list", ("/groups",), (200, JSON, b'{"value": {"id": "g1"}}'), "value is not a list"),
])
def test_a_2xx_that_is_not_graphs_answer_is_an_error_naming_the_request(method, args, answer, kind):
    c = client(Scripted(answer))
    with pytest.raises(GraphError) as e:
        call(c, method, *args)
    text = str(e.value)
    assert kind in text
    assert f"{method.upper() if method != 'list' else 'GET'} {args[0]}" in text
    assert "--graph-endpoint or a proxy" in e.value.fix
    assert "\n" not in text and e.value.exit_code == 1


@pytest.mark.parametrize("method,args,answer,expected", [
    ("post", ("/servicePrincipals/sp1/appRoleAssignedTo", {}), (201, JSON, b'{"id": "a1"}'), {"id": "a1"}),
    ("patch", ("/applications/a1", {}), (204, {}, b""), None),
    ("post", ("/servicePrincipals/sp1/synchronization/jobs/j1/start",), (204, {}, b""), None),
    ("list", ("/groups",), (200, JSON, b'{"value": [{"id": "g1"}]}'), [{"id": "g1"}]),
])
def test_answers_as_documented_count(method, args, answer, expected):
    assert call(client(Scripted(answer)), method, *args) == expected


# -- retries and waits -----------------------------------------------------------------------------------------------

def throttled(seconds):
    return (429, {**JSON, "Retry-After": str(seconds)}, b'{"error": {"code": "TooManyRequests", "message": "slow down"}}')


def test_throttling_is_retried_after_retry_after_and_said():
    said = []
    c = client(Scripted(throttled(5), throttled(5), (200, JSON, b'{"id": "x"}')), on_wait=said.append)
    assert call(c, "get", "/servicePrincipals/x") == {"id": "x"}
    assert c.slept == [5, 5]
    assert len(said) == 2 and all("5 s" in m and "GET /servicePrincipals/x" in m and "429" in m for m in said)


def test_a_retry_after_beyond_the_budget_stops_at_once_with_the_time_asked():
    transport = Scripted(throttled(100))
    c = client(transport, deadline=30)
    with pytest.raises(GraphError) as e:
        call(c, "get", "/servicePrincipals/x")
    assert c.slept == [] and len(transport.seen) == 1
    assert "100 s" in str(e.value) and "100 s" in e.value.fix and "--timeout" in e.value.fix


def test_retries_are_bounded_and_short_waits_are_not_said():
    said = []
    transport = Scripted((503, JSON, b'{"error": {"code": "serviceNotAvailable", "message": "busy"}}'))
    c = client(transport, on_wait=said.append)
    with pytest.raises(GraphError) as e:
        call(c, "get", "/servicePrincipals/x")
    assert e.value.status == 503
    assert len(transport.seen) == 4  # one try and three retries, never more
    assert c.slept == [1.0, 2.0, 4.0]
    assert len(said) == 1 and "4 s" in said[0]  # 1 s and 2 s are not worth a line


def test_a_long_wait_is_said_every_ten_seconds():
    said = []
    c = client(Scripted(throttled(25), (200, JSON, b"{}")), on_wait=said.append)
    call(c, "get", "/x")
    assert c.slept == [10, 10, 5]
    assert len(said) == 3 and "15 s" in said[1] and "5 s" in said[2]


def test_no_retry_for_a_post_that_is_not_safe_to_repeat():
    transport = Scripted(throttled(1))
    c = client(transport)
    with pytest.raises(GraphError):
        call(c, "post", "/servicePrincipals/sp1/synchronization/jobs", {"templateId": "scim"}, retry=False)
    assert len(transport.seen) == 1 and c.slept == []


def test_a_stalled_answer_is_cut_by_the_request_deadline():
    c = client(Stalled(), request_timeout=0.2)
    with pytest.raises(GraphError) as e:
        call(c, "get", "/servicePrincipals/x")
    assert e.value.code == "Timeout" and "0.2 s" in str(e.value) and "GET /servicePrincipals/x" in str(e.value)


def test_a_stalled_answer_is_cut_by_the_run_budget():
    c = client(Stalled(), deadline=0.2)
    with pytest.raises(GraphError) as e:
        call(c, "get", "/servicePrincipals/x")
    assert e.value.code == "Timeout" and "--timeout" in str(e.value)


def test_timeout_from_the_environment_bounds_a_cli_run(sandbox, monkeypatch):
    from natoma_entra.sandbox import faults

    monkeypatch.setenv("NATOMA_ENTRA_TIMEOUT", "30")
    sandbox.options.faults[:] = [faults.throttle(100, method="GET", path=r"/servicePrincipals$", count=None)]
    r = sandbox.cli("status")
    assert r.code == 1
    assert len([q for q in r.requests if q[2] == 429]) == 1  # stopped at once: no 100 s wait, no retry
    assert "100 s" in r.out + r.err


@pytest.mark.parametrize("value", ["0", "-5", "soon"])
def test_a_bad_timeout_is_a_usage_error(sandbox, value):
    r = sandbox.cli("--timeout", value, "status")
    assert r.code == 2 and "--timeout" in r.err and r.requests == []
