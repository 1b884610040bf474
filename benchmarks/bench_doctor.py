"""By hand, not a test: `doctor` at scale against the sandbox, with injected latency.

The tenant (built in the sandbox, in memory; benchmarks/bench_audit.py's builder): the sandbox after `setup`, plus
USERS users in GROUPS assigned security groups of MEMBERS direct members each (GROUPS x MEMBERS memberships;
neighbouring groups overlap and their roles differ every 100 groups, so some users hold two roles), and a nested
group in every tenth group (its one user in no assigned group directly).

Doctor runs in this process against the sandbox's transport, LATENCY seconds added to every Graph request. The
sandbox answers in this process too and blocks the event loop while it builds and serialises each page: its time is
counted apart (so the wall time is pessimistic; "without the sandbox" is what a real Graph would leave).

Prints: wall time, requests, the longest chain of dependent round trips (from the transport's timestamped log) and
its floor (the app; then assignments, job, secrets and groups together; then each group's pages one after another,
CONCURRENCY groups at a time; then the users of nested groups), the peak memory doctor added (VmHWM after resetting it, Linux) and the verdicts.

    .venv/bin/python benchmarks/bench_doctor.py [--users 100000] [--groups 1000] [--members 2000] [--latency 0.05]
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_audit import _vm, build  # noqa: E402  (one tenant builder for the membership walkers' benchmarks)


def add_nested(tenant, groups: int) -> int:
    from natoma_entra.sandbox.state import group_id, user_id

    st = tenant.state
    n = 0
    for gi in range(0, groups, 10):
        nid, nu = group_id(f"Nested {gi}"), user_id(f"Nested user {gi}")
        st["groups"][nid] = {"id": nid, "displayName": f"Nested {gi}", "securityEnabled": True,
                             "mailEnabled": False, "groupTypes": []}
        st["users"][nu] = {"id": nu, "displayName": f"Nested user {gi}",
                           "userPrincipalName": f"nested{gi}@contoso.onmicrosoft.com", "accountEnabled": True}
        st["members"][nid] = [nu]
        st["members"][f"10000000-0000-4000-8000-{gi:012d}"].append(nid)
        n += 1
    return n


async def doctor_once(tenant, latency: float):
    from natoma_entra.config import load
    from natoma_entra.doctor.read import run_doctor
    from natoma_entra.graph.auth import StaticTokenCredential
    from natoma_entra.graph.client import GraphClient
    from natoma_entra.natoma_scim import wsgi_client  # noqa: F401  (the sandbox's SCIM side answers in process)
    from natoma_entra.sandbox import faults
    from natoma_entra.sandbox.defaults import SANDBOX_CONFIG
    from natoma_entra.sandbox.graph import GraphHandler
    from natoma_entra.sandbox.state import ACCESS_TOKEN
    from natoma_entra.sandbox.transport import SandboxTransport
    from natoma_entra.session import Session

    handler = GraphHandler(tenant)
    handle, spent = handler.handle, [0.0]

    def timed(*args, **kwargs):
        t = time.perf_counter()
        try:
            return handle(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - t

    handler.handle = timed
    transport = SandboxTransport(handler, faults=[faults.latency(latency)])
    graph = GraphClient(StaticTokenCredential(ACCESS_TOKEN), "https://graph.microsoft.com/v1.0", transport=transport)
    session = Session(graph=graph, config=load(None, {}, defaults=SANDBOX_CONFIG))
    try:
        return await run_doctor(session), transport, spent[0]
    finally:
        await graph.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--groups", type=int, default=1_000)
    ap.add_argument("--members", type=int, default=2_000)
    ap.add_argument("--latency", type=float, default=0.05, help="seconds added to every Graph request")
    args = ap.parse_args()

    from natoma_entra.audit.reads import CONCURRENCY
    from natoma_entra.sandbox.transport import longest_chain

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        tenant, _ = build(Path(tmp) / "sandbox.json", args.users, args.groups, args.members)
        nested = add_nested(tenant, args.groups)
        print(f"tenant: {args.users:,} users, {args.groups:,} assigned groups x {args.members:,} members = "
              f"{args.groups * args.members:,} memberships, {nested} nested groups (built in "
              f"{time.perf_counter() - t0:.1f} s); latency {args.latency * 1000:.0f} ms per request")
        before = _vm("VmRSS")
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS (VmHWM) to the current RSS
        t0 = time.perf_counter()
        report, transport, sandbox = asyncio.run(doctor_once(tenant, args.latency))
        wall = time.perf_counter() - t0
        peak = _vm("VmHWM")
    pages = math.ceil((args.members + 1) / 999)
    after = 1 if nested else 0  # a nested group's users are read once the page that names it is in
    floor = 2 + pages + after
    floor_limited = 2 + math.ceil(args.groups / CONCURRENCY) * pages + after
    chain = longest_chain(transport.spans)
    verdicts = {s.step: s.info.get("verdict") for s in report.steps}
    several = len(next(s for s in report.steps if s.step == "multiple-grants").info.get("data", {}).get("users", []))
    print(f"doctor: {wall:.1f} s wall, of which {sandbox:.1f} s the sandbox answering in this process (about "
          f"{wall - sandbox:.1f} s against a real Graph); {len(transport.log):,} requests; longest chain "
          f"{chain} round trips (floor {floor}; {floor_limited} with {CONCURRENCY} groups at a time); peak memory "
          f"added {max(0, peak - before) / 2**20:.0f} MB (RSS before {before / 2**20:.0f} MB)")
    print(f"verdicts: {verdicts}; users with several roles: {several:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
