"""By hand, not a test: `audit` at scale against the sandbox, with injected latency.

The tenant: the sandbox after `setup`, plus USERS users in GROUPS assigned security groups of MEMBERS direct members
each (GROUPS x MEMBERS memberships; neighbouring groups overlap, and their roles differ every 100 groups, so some users
hold two roles and "will fail" under the single-role mapping). Natoma holds every user with the role Entra sends,
except a few drifted ones (wrong role, missing, orphans).

Each Graph request waits LATENCY seconds, and so does each SCIM request.
Natoma's users are served by a flat WSGI SCIM app (a ListResponse per page, from a list), not by scim2-server: the
stand-in sorts its whole store for every page, so at 100,000 users it would spend minutes of its own CPU, which is
the sandbox's cost, not the tool's.

The Graph sandbox's answers are recorded once, then replayed with the latency in a process of its own (as
bench_doctor does), so the figures are the audit's own: wall and CPU time, requests (Graph and SCIM), the longest
chain of dependent Graph round trips, the peak memory the audit added (VmHWM after resetting it, Linux), and the
verdict counts.

    .venv/bin/python benchmarks/bench_audit.py [--users 100000] [--groups 2000] [--members 1000] [--latency 0.05]
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from at_scale import Recorder, build, replay_elsewhere, vm  # noqa: E402  (the scale benchmarks' shared parts)

def flat_scim_app(users: list[tuple[str, list[str]]], token: str, latency: float):
    """A minimal SCIM /Users endpoint: ListResponse pages by startIndex/count (RFC 7644 3.4.2.4), bearer checked."""
    from urllib.parse import parse_qs

    docs = [{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": f"n{i}", "userName": name,
             "active": True, "roles": [{"value": r, "primary": j == 0} for j, r in enumerate(roles)]}
            for i, (name, roles) in enumerate(users)]
    seen = [0]

    def app(environ, start_response):
        seen[0] += 1
        time.sleep(latency)
        if environ.get("HTTP_AUTHORIZATION") != f"Bearer {token}":
            start_response("401 Unauthorized", [("Content-Type", "application/scim+json")])
            return [b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"401"}']
        q = parse_qs(environ.get("QUERY_STRING", ""))
        start = int(q.get("startIndex", ["1"])[0])
        count = min(int(q.get("count", ["100"])[0]), 1000)
        page = docs[start - 1:start - 1 + count]
        body = json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                           "totalResults": len(docs), "startIndex": start, "itemsPerPage": len(page),
                           "Resources": page}).encode()
        start_response("200 OK", [("Content-Type", "application/scim+json"), ("Content-Length", str(len(body)))])
        return [body]

    return app, seen


async def audit_once(transport, natoma_app):
    from natoma_entra import audit
    from natoma_entra.config import load
    from natoma_entra.graph.auth import StaticTokenCredential
    from natoma_entra.graph.client import GraphClient
    from natoma_entra.natoma_scim import wsgi_client
    from natoma_entra.sandbox.defaults import SANDBOX_CONFIG
    from natoma_entra.sandbox.state import ACCESS_TOKEN, NATOMA_TOKEN
    from natoma_entra.session import Session

    graph = GraphClient(StaticTokenCredential(ACCESS_TOKEN), "https://graph.microsoft.com/v1.0", transport=transport)
    session = Session(graph=graph, config=load(None, {}, defaults=SANDBOX_CONFIG), scim_token=lambda: NATOMA_TOKEN,
                      scim=lambda url, token, bounds=None: wsgi_client(natoma_app, url, token))
    if os.environ.get("BENCH_TIMELINE"):
        session.progress = lambda msg: print(f"  {msg}", file=sys.stderr)
    try:
        return await audit.report(session)
    finally:
        await graph.close()


def _rss_timeline(wanted):
    """BENCH_TIMELINE=1: RSS every second on stderr, to see in which phase the peak falls. Returns the stopper."""
    if not wanted:
        return lambda: None
    import threading

    stop, t0 = threading.Event(), time.perf_counter()

    def sample():
        while not stop.wait(1.0):
            print(f"  t={time.perf_counter() - t0:5.1f} s  RSS {vm('VmRSS') / 2**20:6.0f} MB", file=sys.stderr)

    threading.Thread(target=sample, daemon=True).start()
    return stop.set


def replay(folder: Path, latency: float) -> int:
    """The measured run, in a process of its own (so its memory is the audit's alone): the Graph sandbox's recorded
    answers replayed with the latency, and Natoma's users served by the flat SCIM app."""
    import pickle


    from natoma_entra.sandbox.state import NATOMA_TOKEN

    rec = Recorder(folder)
    rec.files = pickle.loads((folder / "index.pickle").read_bytes())
    natoma = pickle.loads((folder / "natoma.pickle").read_bytes())
    app, scim_requests = flat_scim_app(natoma, NATOMA_TOKEN, latency)
    del natoma
    import natoma_entra.audit  # noqa: F401  (imports are start-up, not the audit's run)
    import natoma_entra.graph.client  # noqa: F401  (the Graph SDK)
    import natoma_entra.natoma_scim  # noqa: F401
    import scim2_client.engines.wsgi  # noqa: F401

    before = vm("VmRSS")
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS (VmHWM) to the current RSS
    transport = rec.replaying(latency)
    t0, cpu0 = time.perf_counter(), time.process_time()
    timeline = _rss_timeline(os.environ.get("BENCH_TIMELINE"))
    report = asyncio.run(audit_once(transport, app))
    timeline()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    peak = vm("VmHWM")
    step = report.steps[0]
    if step.status == "failed":
        print(f"audit failed: {step.error}")
        return 1
    from natoma_entra.sandbox.transport import longest_chain

    info = step.info
    print(f"wall={wall:.2f} cpu={cpu:.2f} graph={len(transport.log)} scim={scim_requests[0]} "
          f"chain={longest_chain(transport.spans)} peak_mb={max(0, peak - before) / 2**20:.0f} "
          f"rss_before_mb={before / 2**20:.0f}")
    print(f"in scope {info['inScope']:,}, in Natoma {info['inNatoma']:,}, memberships {info['memberships']:,}; "
          f"verdicts: {info['counts']}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--groups", type=int, default=2_000)
    ap.add_argument("--members", type=int, default=1_000)
    ap.add_argument("--latency", type=float, default=0.05, help="seconds added to every Graph and SCIM request")
    ap.add_argument("--replay", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.replay:
        return replay(args.replay, args.latency)

    import pickle


    from natoma_entra.sandbox.state import NATOMA_TOKEN

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        tenant, natoma = build(Path(tmp) / "sandbox.json", args.users, args.groups, args.members)
        print(f"tenant: {args.users:,} users, {args.groups:,} assigned groups x {args.members:,} members = "
              f"{args.groups * args.members:,} memberships; Natoma holds {len(natoma):,} users "
              f"(built in {time.perf_counter() - t0:.1f} s); latency {args.latency * 1000:.0f} ms per request")
        rec = Recorder(Path(tmp))
        app, _ = flat_scim_app(natoma, NATOMA_TOKEN, 0.0)
        t0 = time.perf_counter()
        asyncio.run(audit_once(rec.recording(tenant), app))  # the Graph sandbox's answers, kept on disk
        recorded = time.perf_counter() - t0
        (Path(tmp) / "index.pickle").write_bytes(pickle.dumps(rec.files))
        (Path(tmp) / "natoma.pickle").write_bytes(pickle.dumps(natoma))
        del tenant, natoma, app
        replayed = replay_elsewhere(__file__, tmp, args.latency)  # stderr: the RSS timeline, when asked
        if replayed is None:
            return 1
        figures, lines = replayed
    print(f"audit: {float(figures['wall']):.1f} s wall, {float(figures['cpu']):.1f} s CPU; {int(figures['graph']):,} "
          f"Graph requests + {int(figures['scim']):,} SCIM requests; longest Graph chain {figures['chain']} round "
          f"trips; peak memory added {figures['peak_mb']} MB (RSS after start-up {figures['rss_before_mb']} MB)")
    print(lines[1])
    print(f"(the Graph sandbox's answers were recorded first, in {recorded:.1f} s, and replayed with the latency in a "
          "process of its own, as Natoma's pages are served)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
