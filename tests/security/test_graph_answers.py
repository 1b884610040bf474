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


JOBS = "/servicePrincipals/sp1/synchronization/jobs"
JOB = (201, JSON, b'{"id": "scim.t.a", "templateId": "scim"}')
BUSY = (503, JSON, b'{"error": {"code": "serviceNotAvailable", "message": "busy"}}')


def test_a_429_on_a_post_that_is_not_safe_to_repeat_is_retried_after_retry_after():
    """Issue 23: a 429 means the request was not processed (concepts/throttling.md), so even POST jobs is sent again
    once Retry-After has passed (it used to fail setup)."""
    transport = Scripted(throttled(3), JOB)
    c = client(transport)
    assert call(c, "post", JOBS, {"templateId": "scim"}) == {"id": "scim.t.a", "templateId": "scim"}
    assert len(transport.seen) == 2 and c.slept == [3]


def test_a_503_on_a_post_that_is_not_safe_to_repeat_is_not_sent_again_without_a_re_read():
    transport = Scripted(BUSY, JOB)
    c = client(transport)
    with pytest.raises(GraphError) as e:
        call(c, "post", JOBS, {"templateId": "scim"})
    assert e.value.status == 503 and len(transport.seen) == 1


def test_a_503_on_a_create_that_graph_applied_is_answered_by_the_re_read_and_never_sent_twice():
    from natoma_entra.graph.retry import Policy

    transport = Scripted(BUSY, JOB)
    c = client(transport)
    reads = []

    async def applied():
        reads.append(len(transport.seen))  # made after the first POST, before any second one
        return {"id": "scim.t.a", "templateId": "scim", "found": True}

    got = call(c, "post", JOBS, {"templateId": "scim"}, policy=Policy(applied=applied))
    assert got["found"] is True and reads == [1] and len(transport.seen) == 1


def test_a_503_on_a_create_that_graph_did_not_apply_is_sent_again_after_the_re_read():
    from natoma_entra.graph.retry import Policy

    transport = Scripted(BUSY, JOB)
    c = client(transport)

    async def applied():
        return None

    assert call(c, "post", JOBS, {"templateId": "scim"}, policy=Policy(applied=applied))["id"] == "scim.t.a"
    assert len(transport.seen) == 2 and c.slept == [1.0]


class LostAnswer(Scripted):
    """The first request goes out and the connection breaks before the answer (the write may have been applied)."""

    async def handle_async_request(self, request):
        if not self.seen:
            self.seen.append(f"{request.method} {request.url.path}")
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        return await super().handle_async_request(request)


def test_a_lost_answer_is_repeated_for_a_read_and_re_read_for_a_create():
    from natoma_entra.graph.retry import Policy

    c = client(LostAnswer((200, JSON, b'{"id": "x"}')))
    assert call(c, "get", "/servicePrincipals/x") == {"id": "x"}
    transport = LostAnswer(JOB)
    c = client(transport)
    with pytest.raises(GraphError) as e:  # no re-read to tell: not sent twice
        call(c, "post", JOBS, {"templateId": "scim"})
    assert e.value.code == "AnswerLost" and "may have been applied" in str(e.value) and len(transport.seen) == 1

    async def applied():
        return {"id": "made"}

    transport = LostAnswer(JOB)
    assert call(client(transport), "post", JOBS, {"templateId": "scim"}, policy=Policy(applied=applied)) == {
        "id": "made"}
    assert len(transport.seen) == 1


def http_date(dt):
    import email.utils

    return email.utils.format_datetime(dt, usegmt=True)


def test_an_http_date_retry_after_is_honoured():
    """Issue 23: RFC 9110 10.2.3 lets Retry-After be an HTTP-date; it used to be read as absent (a 1 s backoff)."""
    import datetime as dt

    date = dt.datetime(2026, 1, 5, 9, 0, 0, tzinfo=dt.timezone.utc)
    later = http_date(date + dt.timedelta(seconds=42))
    transport = Scripted((429, {**JSON, "Retry-After": later, "Date": http_date(date)}, b"{}"), (200, JSON, b"{}"))
    c = client(transport)
    call(c, "get", "/x")
    assert c.slept == [10, 10, 10, 10, 2]  # 42 s, measured from Graph's own Date header, said every 10 s


def test_an_http_date_without_a_date_header_is_measured_on_the_runs_clock():
    from natoma_entra.sandbox.options import SimulatedClock

    clock = SimulatedClock(t=0.4)  # 09:00:00.4
    import datetime as dt

    at = http_date(clock.now().replace(microsecond=0) + dt.timedelta(seconds=7))  # 09:00:07
    transport = Scripted((503, {**JSON, "Retry-After": at}, b"{}"), (200, JSON, b"{}"))
    c = GraphClient(StaticTokenCredential("fake-graph-token-for-client-tests"), BASE, transport=transport,
                    clock=clock)
    call(c, "get", "/x")
    assert clock.t == pytest.approx(7.0)  # never before the moment named


def test_a_retry_after_date_beyond_the_budget_stops_at_once():
    import datetime as dt

    date = dt.datetime(2026, 1, 5, 9, 0, 0, tzinfo=dt.timezone.utc)
    transport = Scripted((429, {**JSON, "Retry-After": http_date(date + dt.timedelta(hours=1)),
                                "Date": http_date(date)}, b"{}"))
    c = client(transport, deadline=60)
    with pytest.raises(GraphError) as e:
        call(c, "get", "/x")
    assert len(transport.seen) == 1 and c.slept == [] and "3600 s" in e.value.fix


def test_an_empty_page_with_a_next_link_is_followed_as_given():
    link = BASE + "/groups?$skiptoken=opaque%2Btoken"
    transport = Scripted((200, JSON, ('{"value": [], "@odata.nextLink": "%s"}' % link).encode()),
                         (200, JSON, b'{"value": [{"id": "g1"}]}'))
    assert call(client(transport), "list", "/groups") == [{"id": "g1"}]
    assert transport.seen == ["GET /v1.0/groups", "GET /v1.0/groups"]


def test_replication_of_a_new_object_is_waited_out_on_the_runs_schedule_and_said():
    from natoma_entra.graph.retry import AFTER_CREATE
    from natoma_entra.waits import Waits

    said = []
    missing = (404, JSON, b'{"error": {"code": "Request_ResourceNotFound", "message": "gone"}}')
    transport = Scripted(missing, missing, (204, {}, b""))
    c = client(transport, on_wait=said.append, waits=Waits(poll=(1, 5, 5)))
    call(c, "patch", "/applications/new", {"notes": "x"}, policy=AFTER_CREATE.but(what="marking the new app"))
    assert c.slept == [1, 5] and len(transport.seen) == 3
    assert said == ["marking the new app: Graph answered 404 while it replicates; retrying for at most 11 s..."]
    transport = Scripted(missing, (204, {}, b""))
    with pytest.raises(GraphError):  # without the policy a 404 is an answer
        call(client(transport), "patch", "/applications/new", {"notes": "x"})
    assert len(transport.seen) == 1


def test_a_named_lag_is_waited_out_and_its_fix_is_true_when_it_lasts():
    from natoma_entra.graph.retry import DISABLE_LAG, Policy
    from natoma_entra.waits import Waits

    enabled = (400, JSON, b'{"error": {"code": "CannotDeleteOrUpdateEnabledEntitlement", "message": "Permission '
                          b'(scope or role) cannot be deleted or updated unless disabled first"}}')
    policy = Policy(lags=(DISABLE_LAG,))
    transport = Scripted(enabled, enabled, (204, {}, b""))
    call(client(transport, waits=Waits(poll=(2, 3))), "patch", "/applications/a", {"appRoles": []}, policy=policy)
    assert len(transport.seen) == 3
    c = client(Scripted(enabled), waits=Waits(poll=(2, 3)))
    with pytest.raises(GraphError) as e:
        call(c, "patch", "/applications/a", {"appRoles": []}, policy=policy)
    assert c.slept == [2, 3]
    assert "Graph has not applied the disable after 5 s" in e.value.fix and "run the command again" in e.value.fix


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
