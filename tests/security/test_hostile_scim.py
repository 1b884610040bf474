"""Natoma's SCIM reads are bounded like Graph's (issue 22, item 4): a hostile or broken SCIM server, for each way the
issue found to hang, flood or fool `audit` and `provision --verify`, and the read ends with one line naming the
server's fault, within the run's --timeout and well under 300 MB.

The servers are small WSGI apps served through the product's own network engine (scim2-client over httpx2, with
its bounds) by httpx2's WSGI transport; time is a simulated clock the server moves (a byte "every 5 s" costs no
real second). The end-to-end cases at the bottom serve them on a real loopback socket, with Graph from
`sandbox serve`, and run the CLI.
"""
from __future__ import annotations

import asyncio
import gzip
import json
import threading
import time
import tracemalloc
from typing import Any, Callable, Iterable

import httpx2
import pytest

from natoma_entra.audit.core import case_duplicates
from natoma_entra.audit.reads import read_natoma
from natoma_entra.natoma_scim import network_client, read_user_roles
from natoma_entra.scim_bounds import Bounds, ScimReadError, in_thread

URL = "https://natoma.hostile.test/scim/v2"
TOKEN = "hostile-test-scim-token"
LIMIT_MB = 300


class Clock:
    """Simulated time: the server moves it; the bounds read it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def user(n: int, name: str | None = None) -> dict:
    return {"id": f"id-{n}", "userName": name or f"user{n}@contoso.test", "active": True,
            "roles": [{"value": "member", "primary": True}]}


def list_response(users: list, total: Any = "same", start: Any = None, **extra) -> dict:
    doc: dict = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "Resources": users, **extra}
    if total == "same":
        doc["totalResults"] = len(users)
    elif total is not None:
        doc["totalResults"] = total
    if start is not None:
        doc["startIndex"] = start
    return doc


class Server:
    """A WSGI SCIM server: `answer(start, count)` gives (headers, body chunks) for GET /Users."""

    def __init__(self, answer: Callable[[int, int], tuple[list[tuple[str, str]], Iterable[bytes]]]):
        self.answer = answer
        self.requests: list[int] = []

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        from urllib.parse import parse_qs

        q = parse_qs(environ.get("QUERY_STRING", ""))
        start, count = int(q.get("startIndex", ["1"])[0]), int(q.get("count", ["100"])[0])
        self.requests.append(start)
        headers, body = self.answer(start, count)
        start_response("200 OK", [("Content-Type", "application/scim+json"), *headers])
        return body


def json_answer(doc: dict) -> tuple[list[tuple[str, str]], list[bytes]]:
    body = json.dumps(doc).encode()
    return [("Content-Length", str(len(body)))], [body]


def paged(users: int, *, honour_start: bool = True, total: Any = "real", start_field: bool = True):
    """A server holding `users` users; it may ignore startIndex, misstate totalResults or leave out startIndex."""
    def answer(start: int, count: int):
        first = start if honour_start else 1
        page = [user(n) for n in range(first, min(first + count, users + 1))]
        return json_answer(list_response(page, total=users if total == "real" else total,
                                         start=start if start_field and honour_start else (1 if start_field else None)))
    return answer


def bounds(clock: Clock | None = None, timeout: float = 300.0, **kw) -> Bounds:
    clock = clock or Clock()
    return Bounds(remaining=lambda: timeout - clock(), budget=timeout, clock=clock, **kw)


def read(server: Server, b: Bounds | None = None, **kw) -> list:
    b = b or bounds()
    factory = lambda url, token, _: network_client(url, token, b, transport=httpx2.WSGITransport(app=server))  # noqa: E731
    return read_natoma(URL, TOKEN, factory, bounds=b, **kw)


def fails(server: Server, b: Bounds | None = None, **kw) -> str:
    with pytest.raises(ScimReadError) as e:
        read(server, b, **kw)
    assert "natoma.hostile.test" in e.value.message and e.value.fix
    assert "\n" not in e.value.message
    return e.value.message


# -- pagination that must advance ------------------------------------------------------------------------------------

def test_a_well_behaved_server_is_read_whole():
    server = Server(paged(1234))
    users = read(server)
    assert len(users) == 1234 and len({u.id for u in users}) == 1234
    assert server.requests == [1, 501, 1001]


@pytest.mark.parametrize("total,words", [
    (None, "without totalResults"),
    (-5, "negative"),
    ("many", "not a number"),
    (True, "not a number"),
    (2.5, "not a number"),
    (10 ** 12, "more users than natoma-entra reads"),
])
def test_a_total_that_is_not_a_count_stops_the_read(total, words):
    server = Server(paged(600, total=total))
    assert words in fails(server)
    assert len(server.requests) == 1  # not one page more


def test_startindex_ignored_and_said_stops_at_the_second_page():
    server = Server(paged(2000, honour_start=False))
    assert "answered startIndex 1 when asked for 501" in fails(server)
    assert len(server.requests) <= 5  # the first page, then one batch read side by side


def test_startindex_ignored_silently_is_a_page_that_repeats():
    """The issue's "2000 users" from 500 distinct: each page repeats the first."""
    server = Server(paged(2000, honour_start=False, start_field=False))
    assert "served the same users again at startIndex 501" in fails(server)


def test_a_repeating_page_without_ids_or_totals_never_loops():
    """No totalResults and startIndex ignored looped forever (715 MB after 60 s): now the first page stops it."""
    def answer(start, count):
        return json_answer({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                            "Resources": [{"userName": f"u{n}"} for n in range(count)]})
    server = Server(answer)
    assert "without totalResults" in fails(server)
    assert len(server.requests) == 1


def test_users_created_while_reading_shift_pages_and_are_given_once():
    """Legitimate overlap (a user created before the cursor shifts the next page by one): no error, no twin."""
    def answer(start, count):
        first = max(1, start - 1) if start > 1 else 1  # every later page starts one user early
        return json_answer(list_response([user(n) for n in range(first, min(first + count, 1001))], total=1000,
                                         start=start))
    users = read(Server(answer))
    assert len(users) == len({u.id for u in users}) >= 998


@pytest.mark.parametrize("resources,words", [
    ({"id": "x"}, "Resources that is not a list"),
    ("users", "Resources that is not a list"),
    (["alice", "bob"], "Resources that is not a list"),
    (None, "without Resources"),
])
def test_resources_that_are_not_a_list_of_users_are_refused_not_read_as_an_empty_natoma(resources, words):
    def answer(start, count):
        doc = list_response([], total=3)
        doc["Resources"] = resources
        if resources is None:
            del doc["Resources"]
        return json_answer(doc)
    assert words in fails(Server(answer))


def test_usernames_differing_only_in_case_are_reported():
    def answer(start, count):
        return json_answer(list_response([user(1, "Alice@contoso.test"), user(2, "alice@CONTOSO.test"),
                                          user(3, "bob@contoso.test")]))
    users = read(Server(answer))
    assert len(users) == 3
    assert case_duplicates(users) == [["Alice@contoso.test", "alice@CONTOSO.test"]]


def test_read_user_roles_compares_case_insensitively_and_reports_twins():
    def one(start, count):
        return json_answer(list_response([user(1, "Alice@Contoso.test")]))

    def twins(start, count):
        return json_answer(list_response([user(1, "Alice@contoso.test"), user(2, "ALICE@contoso.test")]))

    for answer, expect in ((one, "Alice@Contoso.test"), (twins, None)):
        b = bounds()
        factory = lambda url, token, _, a=answer: network_client(  # noqa: E731
            url, token, b, transport=httpx2.WSGITransport(app=Server(a)))
        if expect:
            assert read_user_roles(URL, TOKEN, "alice@contoso.TEST", factory, bounds=b)["userName"] == expect
        else:
            with pytest.raises(ScimReadError, match="differ only in case"):
                read_user_roles(URL, TOKEN, "alice@contoso.test", factory, bounds=b)


def test_what_the_audit_holds_is_capped_whatever_the_server_sends():
    """Distinct users without end (each page new, totalResults at the maximum): the read stops at its budget."""
    def answer(start, count):
        return json_answer(list_response([user(n, "x" * 200 + str(n)) for n in range(start, start + count)],
                                         total=1_000_000, start=start))
    server = Server(answer)
    message = fails(server, max_held=512 * 1024)
    assert "more user data than the audit holds" in message
    assert len(server.requests) < 20


# -- size: per answer, as sent and decompressed ----------------------------------------------------------------------

def big_page(size: int) -> bytes:
    """A page of `size` bytes: twenty users of size/20 bytes each (their displayName)."""
    filler = "x" * (size // 20)
    return json.dumps(list_response([dict(user(n), displayName=filler) for n in range(20)], total=400)).encode()


@pytest.mark.parametrize("say_length", [True, False], ids=["content-length", "streamed"])
def test_twenty_ten_megabyte_pages_are_refused_at_the_first(say_length):
    ten_mb = big_page(10 * 1024 * 1024)

    def answer(start, count):
        chunks = [ten_mb[i:i + 65536] for i in range(0, len(ten_mb), 65536)]
        return ([("Content-Length", str(len(ten_mb)))] if say_length else []), chunks
    server = Server(answer)
    tracemalloc.start()
    try:
        message = fails(server)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "sent more than 1 MiB in one answer" in message
    assert server.requests == [1, 1, 1, 1]  # asked again for 125, 31, then 25 users: the server ignores count
    assert peak < 20 * 1024 * 1024, f"{peak / 1e6:.0f} MB"


SPACES = b" " * (32 * 1024 * 1024)  # 32 MB of JSON whitespace: 16 times the cap, ~32 KB compressed
BOMBS = {"gzip": gzip.compress(SPACES, compresslevel=6), "deflate": __import__("zlib").compress(SPACES, 6)}
del SPACES


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_compression_bomb_is_refused_once_decompressed_past_the_cap(encoding):
    """The issue's 400 KB gzip body that took 1.67 GB: whatever the ratio, no more than the cap is inflated."""
    body = BOMBS[encoding]
    assert len(body) < 100 * 1024

    def answer(start, count):
        return [("Content-Encoding", encoding), ("Content-Length", str(len(body)))], [body]
    tracemalloc.start()
    try:
        message = fails(Server(answer))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "more than 1 MiB once decompressed" in message
    assert peak < 20 * 1024 * 1024, f"{peak / 1e6:.0f} MB"


def test_a_compressed_page_within_the_cap_is_read():
    body = gzip.compress(json.dumps(list_response([user(n) for n in range(1, 301)])).encode())

    def answer(start, count):
        return [("Content-Encoding", "gzip")], [body[i:i + 100] for i in range(0, len(body), 100)]
    assert len(read(Server(answer))) == 300


def test_an_encoding_not_asked_for_is_refused():
    def answer(start, count):
        return [("Content-Encoding", "br")], [b"\x00" * 10]
    assert "Content-Encoding br, which was not asked for" in fails(Server(answer))


# -- time: every request and the whole run under --timeout ---------------------------------------------------------

def trickle(clock: Clock, every: float, body: bytes = b" " * 10_000):
    """One byte at a time, `every` simulated seconds apart."""
    def answer(start, count):
        def chunks():
            for i in range(len(body)):
                clock.now += every
                yield body[i:i + 1]
        return [], chunks()
    return answer


def test_a_byte_every_five_seconds_stops_at_the_runs_timeout():
    clock = Clock()
    message = fails(Server(trickle(clock, 5.0)), bounds(clock, timeout=15))
    assert "did not finish answering within this run's --timeout of 15 s" in message
    assert clock.now <= 15 + 5


def test_a_byte_every_five_seconds_stops_at_the_request_limit_under_a_long_timeout():
    clock = Clock()
    message = fails(Server(trickle(clock, 5.0)), bounds(clock, timeout=3600))
    assert "did not finish one answer" in message and "within 100 s" in message
    assert clock.now <= 100 + 5


def test_slow_pages_one_after_another_stop_at_the_runs_timeout():
    """Each page is quick, but together they pass --timeout: the read stops before the next page."""
    clock = Clock()

    def answer(start, count):
        clock.now += 2.0
        return paged(1_000_000)(start, count)
    server = Server(answer)
    message = fails(server, bounds(clock, timeout=15), max_held=10 ** 9)
    assert "--timeout of 15 s" in message
    assert clock.now <= 15 + 4 * 2  # at most the batch in flight when the time ran out


def test_each_request_is_sent_with_timeouts_no_longer_than_the_time_left():
    clock = Clock()
    clock.now = 290.0
    seen = []

    class Spy(httpx2.BaseTransport):
        def handle_request(self, request):
            seen.append(request.extensions["timeout"])
            return httpx2.Response(200, json=list_response([user(1)]), request=request)

    b = bounds(clock, timeout=300)
    read_natoma(URL, TOKEN, lambda url, token, _: network_client(url, token, b, transport=Spy()), bounds=b)
    assert seen and all(0 < v <= 10.0 for v in seen[0].values())


class Loopback:
    """A real socket: accepts, reads the request, then sends the status line and headers one byte at a time, forever
    (a trickle no chunk check can see: the answer has not begun)."""

    def __init__(self, every: float = 0.05):
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/scim/v2"
        self.every, self.stopped = every, threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn) -> None:
        with conn:
            conn.recv(65536)
            head = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 100_000
            for i in range(len(head)):
                if self.stopped.wait(self.every):
                    return
                try:
                    conn.sendall(head[i:i + 1])
                except OSError:
                    return

    def close(self) -> None:
        self.stopped.set()
        self.sock.close()


def test_a_read_stuck_in_the_socket_is_left_on_time():
    """The hard bound: the read is blocked in recv (headers trickling, each byte within the read timeout); the caller
    stops waiting when the run's time is up, and the reading thread, told to stop, is a daemon."""
    server = Loopback()
    try:
        start = time.monotonic()
        b = Bounds(remaining=lambda: 0.5 - (time.monotonic() - start), budget=0.5)
        with pytest.raises(ScimReadError, match="--timeout of 0.5 s"):
            asyncio.run(in_thread(lambda: read_natoma(server.url, TOKEN, bounds=b), b, "127.0.0.1"))
        assert time.monotonic() - start < 3  # 0.5 s, and slack for a loaded machine (the trickle lasts 10,000 s)
        assert b.stop.is_set()
    finally:
        server.close()


# -- end to end: the CLI against Graph from `sandbox serve` and a hostile SCIM server, both on loopback ------------------

@pytest.fixture
def graph(sandbox, monkeypatch):
    """`sandbox serve` of a set-up tenant on a free loopback port, the environment signed in to it."""
    from natoma_entra.sandbox.serve import make_server
    from natoma_entra.sandbox.state import ACCESS_TOKEN, Tenant

    assert sandbox.set_up().code == 0
    srv = make_server(Tenant.load(sandbox.path), port=0)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    monkeypatch.setenv("NATOMA_ENTRA_ACCESS_TOKEN", ACCESS_TOKEN)
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", TOKEN)
    yield srv
    srv.shutdown()
    srv.server_close()


class Served:
    """A hostile WSGI SCIM app on a real loopback socket (wsgiref, a thread per request)."""

    def __init__(self, app: Server):
        from socketserver import ThreadingMixIn
        from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

        class Quiet(WSGIRequestHandler):
            def log_message(self, *args):
                pass

        class Threading(ThreadingMixIn, WSGIServer):
            daemon_threads = True

        self.srv = make_server("127.0.0.1", 0, app, server_class=Threading, handler_class=Quiet)
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}/scim/v2"
        threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.srv.shutdown()
        self.srv.server_close()


def cli(graph, capsys, *args: str) -> tuple[int, str, str, float]:
    from natoma_entra.cli.application import Application
    from natoma_entra.cli.main import run

    capsys.readouterr()
    start = time.monotonic()
    try:
        run(["--auth", "access-token", "--graph-endpoint", graph.url + "/v1.0", "--app", "Natoma", *args],
            application=Application())
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    cap = capsys.readouterr()
    return code, cap.out, cap.err, time.monotonic() - start


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_audit_against_a_server_that_ignores_startindex_exits_1_naming_the_servers_fault(graph, capsys):
    hostile = Served(Server(paged(2000, honour_start=False, start_field=False)))
    try:
        code, out, err, _ = cli(graph, capsys, "audit", "--scim-url", hostile.url)
    finally:
        hostile.close()
    assert code == 1
    line = one_error_line(err)
    assert "127.0.0.1" in line and "served the same users again" in line and "Fix:" in line


def test_audit_reports_usernames_that_differ_only_in_case(sandbox, monkeypatch):
    """Adele is in Natoma twice, in two cases (a Natoma that once let that happen: the stand-in refuses it now, so
    the twin is put straight into its saved store): a difference (exit 3 with --exit-code), said in a warning."""
    from natoma_entra.sandbox.state import NATOMA_TOKEN

    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    assert sandbox.set_up().code == 0
    t = sandbox.tenant()
    resources = t.state["natoma"]["resources"]
    adele = next(r for r in resources if r.get("userName") == "AdeleV@contoso.onmicrosoft.com")
    resources.append(dict(adele, id="twin-of-adele", userName="adelev@CONTOSO.onmicrosoft.com"))
    sandbox.save(t)
    r = sandbox.cli("--exit-code", "-o", "json", "audit")
    assert r.code == 3, r.err
    step = r.json()["steps"][0]
    assert step["info"]["duplicateUserNames"] == [["AdeleV@contoso.onmicrosoft.com", "adelev@CONTOSO.onmicrosoft.com"]]
    assert any("differing only in case" in w for w in step["warnings"])
    text = sandbox.cli("audit")
    assert "userNames held twice in Natoma (case aside): 1" in text.out


def test_provision_verify_reads_back_within_the_cap():
    """provision --verify's read (read_user_roles) goes through the same bounds: a compression bomb is refused."""
    def answer(start, count):
        return [("Content-Encoding", "gzip"), ("Content-Length", str(len(BOMBS["gzip"])))], [BOMBS["gzip"]]
    b = bounds()
    factory = lambda url, token, _: network_client(url, token, b, transport=httpx2.WSGITransport(app=Server(answer)))  # noqa: E731
    with pytest.raises(ScimReadError, match="once decompressed"):
        read_user_roles(URL, TOKEN, "alice@contoso.test", factory, bounds=b)


def test_audit_against_a_trickling_server_ends_within_its_timeout(graph, capsys):
    """Real time, the smallest --timeout (1 s): the header bytes trickle for ever; the run ends on time."""
    hostile = Loopback(every=0.1)
    try:
        code, out, err, took = cli(graph, capsys, "--timeout", "1", "audit", "--scim-url", hostile.url)
    finally:
        hostile.close()
    assert code == 1
    assert "--timeout of 1 s" in one_error_line(err)
    assert took < 5  # 1 s, and slack for a loaded machine: the trickle itself would last 10,000 s


def test_a_server_that_sends_whole_users_is_read_in_smaller_pages():
    """Users of ~4 KB each (a server ignoring `attributes`): a page of 500 passes the cap, so pages of 125 are asked
    for, from the first page on."""
    def answer(start, count):
        page = [dict(user(n), displayName="d" * 4000) for n in range(start, min(start + count, 1001))]
        return json_answer(list_response(page, total=1000, start=start))
    server = Server(answer)
    users = read(server)
    assert len(users) == 1000 == len({u.id for u in users})
    assert server.requests[:2] == [1, 1] and all((s - 1) % 125 == 0 for s in server.requests)


def test_more_users_than_asked_for_is_the_servers_fault():
    def answer(start, count):
        return json_answer(list_response([user(n) for n in range(count + 1)], total=10_000, start=start))
    assert "sent 501 users when asked for at most 500" in fails(Server(answer))


def test_a_read_given_up_by_its_caller_is_told_to_stop():
    """audit cancels the Natoma read when its Graph side fails: the command does not wait for a stuck server."""
    started, release = threading.Event(), threading.Event()
    b = Bounds(remaining=lambda: 300.0)

    def stuck() -> list:
        started.set()
        release.wait(5)
        return []

    async def go() -> float:
        task = asyncio.ensure_future(in_thread(stuck, b, "127.0.0.1"))
        await asyncio.to_thread(started.wait, 5)
        t0 = time.monotonic()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return time.monotonic() - t0

    try:
        assert asyncio.run(go()) < 1 and b.stop.is_set()
    finally:
        release.set()
