"""By hand, not a test: Natoma's SCIM reads against hostile servers at full size, on a real loopback socket, each case in
a process of its own so its peak memory (VmHWM, Linux) is the read's alone (issue 22, item 4: under 300 MB whatever
the server sends, and within --timeout).

Cases (the issue's, at the sizes it found them):
- pages10mb   twenty 10 MB pages (ran past --timeout 15)
- bomb        an endless gzip stream of zeros, made as it is sent (a 400 KB body took 1.67 GB)
- worstjson   pages at the size cap of the JSON shape that costs most memory once parsed, four side by side,
              distinct users for ever (totalResults 1,000,000), until --timeout
- manyusers   distinct small users as fast as the socket goes, until the audit's holding budget stops it
- trickle     one byte every 5 s (never timed out); --timeout 15, so it takes 15 s of wall time
- loop        no totalResults, startIndex ignored (715 MB after 60 s)

    .venv/bin/python benchmarks/bench_scim_bounds.py [--timeout 15] [case ...]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Any, Callable, Iterable

CASES = ("pages10mb", "bomb", "worstjson", "manyusers", "trickle", "loop")


def _list(users: list, total: Any = None, start: int | None = None) -> bytes:
    doc: dict = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "Resources": users}
    if total is not None:
        doc["totalResults"] = total
    if start is not None:
        doc["startIndex"] = start
    return json.dumps(doc).encode()


def app_for(case: str) -> Callable:
    """The hostile server's WSGI app for `case`."""
    from urllib.parse import parse_qs

    def query(environ: dict) -> tuple[int, int]:
        q = parse_qs(environ.get("QUERY_STRING", ""))
        return int(q.get("startIndex", ["1"])[0]), int(q.get("count", ["100"])[0])

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        start, count = query(environ)
        headers = [("Content-Type", "application/scim+json")]
        if case == "pages10mb":
            users = [{"id": f"{start}-{n}", "userName": f"u{start}-{n}", "x": "y" * 1000} for n in range(9500)]
            start_response("200 OK", headers)
            return [_list(users, total=20 * 9500, start=start)]
        if case == "bomb":
            start_response("200 OK", headers + [("Content-Encoding", "gzip")])

            def endless() -> Iterable[bytes]:
                z = zlib.compressobj(9, zlib.DEFLATED, 31)
                zeros = b"0" * (1024 * 1024)
                while True:
                    yield z.compress(zeros) or z.flush(zlib.Z_SYNC_FLUSH)
            return endless()
        if case == "worstjson":
            filler = ",".join(["[[]]"] * 380)  # ~2 KB of nested empty arrays per user: the cap holds ~500 users
            users = ",".join(f'{{"id":"{start}-{n}","userName":"u{start}-{n}","x":[{filler}]}}' for n in range(count))
            body = ('{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1000000,'
                    f'"startIndex":{start},"Resources":[{users}]}}').encode()
            start_response("200 OK", headers + [("Content-Length", str(len(body)))])
            return [body]
        if case == "manyusers":
            users = [{"id": f"{start + n:012d}", "userName": f"user{start + n}@contoso.test"} for n in range(count)]
            start_response("200 OK", headers)
            return [_list(users, total=1_000_000, start=start)]
        if case == "trickle":
            start_response("200 OK", headers)

            def slow() -> Iterable[bytes]:
                for b in _list([{"id": "1", "userName": "u1"}], total=1):
                    time.sleep(5)
                    yield bytes([b])
            return slow()
        if case == "loop":
            start_response("200 OK", headers)
            return [_list([{"id": f"{n}", "userName": f"u{n}"} for n in range(count)])]
        raise ValueError(case)

    return app


def serve(app: Callable) -> tuple[Any, str]:
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    class Threading(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    srv = make_server("127.0.0.1", 0, app, server_class=Threading, handler_class=Quiet)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/scim/v2"


def _vm(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def one(case: str, timeout: float) -> None:
    """The measured read, in this process: the audit's read_natoma within the bounds of a run of `timeout` s."""
    import asyncio

    from natoma_entra.audit.reads import read_natoma
    from natoma_entra.scim_bounds import Bounds, ScimReadError, in_thread

    srv, url = serve(app_for(case))
    before = _vm("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) starts again from here
    except OSError:
        pass
    t0 = time.monotonic()
    bounds = Bounds(remaining=lambda: timeout - (time.monotonic() - t0), budget=timeout)
    try:
        users = asyncio.run(in_thread(lambda: read_natoma(url, "bench-token", bounds=bounds), bounds, "127.0.0.1"))
        outcome = f"read {len(users):,} users"
    except ScimReadError as e:
        outcome = f"error: {e.message}"
    wall = time.monotonic() - t0
    peak = _vm("VmHWM")
    print(f"{case:<10} wall {wall:6.1f} s  peak {peak / 2**20:5.0f} MB (rss before {before / 2**20:.0f} MB)  "
          f"{outcome}", flush=True)
    os._exit(0)  # the hostile server's threads (and a trickle in flight) end with the process


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases", nargs="*", default=list(CASES))
    ap.add_argument("--timeout", type=float, default=15.0, help="the run's --timeout, seconds")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        one(args.one, args.timeout)
        return 0
    for case in args.cases:
        subprocess.run([sys.executable, __file__, "--one", case, "--timeout", str(args.timeout)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
