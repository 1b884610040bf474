"""By hand, not a test: `doctor` at scale against the sandbox, with injected latency.

The tenant (built in the sandbox, in memory; benchmarks/bench_audit.py's builder): the sandbox after `setup`, plus
USERS users in GROUPS assigned security groups of MEMBERS direct members each (GROUPS x MEMBERS memberships;
neighbouring groups overlap and their roles differ every 100 groups, so some users hold two roles), and a nested
group in every tenth group (its one user in no assigned group directly).

Doctor runs twice. First against the sandbox, whose answers are kept on disk (the sandbox builds and
serialises every page in this process, which is the sandbox's cost, not doctor's). Then the measured run, in a process of its own:
the same answers replayed, LATENCY seconds added to every Graph request, so its wall time, CPU and memory are doctor's own
(HTTP stack, JSON, folding, checks) with Graph's time played by the latency.

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
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from at_scale import Recorder, build, replay_elsewhere, vm  # noqa: E402  (the scale benchmarks' shared parts)


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


async def doctor_once(transport):
    from natoma_entra.config import load
    from natoma_entra.doctor.read import run_doctor
    from natoma_entra.graph.auth import StaticTokenCredential
    from natoma_entra.graph.client import GraphClient
    from natoma_entra.sandbox.defaults import SANDBOX_CONFIG
    from natoma_entra.sandbox.state import ACCESS_TOKEN
    from natoma_entra.session import Session

    graph = GraphClient(StaticTokenCredential(ACCESS_TOKEN), "https://graph.microsoft.com/v1.0", transport=transport)
    session = Session(graph=graph, config=load(None, {}, defaults=SANDBOX_CONFIG))
    try:
        return await run_doctor(session)
    finally:
        await graph.close()


def replay(folder: Path, latency: float) -> int:
    """The measured run, in a process of its own (so its memory is doctor's alone): the recorded answers replayed."""
    import gc
    import pickle

    from natoma_entra.console import COLLECTOR_THRESHOLDS

    gc.set_threshold(*COLLECTOR_THRESHOLDS)  # the collector of a natoma-entra process (natoma_entra/console.py)
    rec = Recorder(folder)
    rec.files = pickle.loads((folder / "index.pickle").read_bytes())
    import natoma_entra.doctor.read  # noqa: F401  (imports are start-up, not doctor's run)

    before = vm("VmRSS")
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS (VmHWM) to the current RSS
    transport = rec.replaying(latency)
    t0, cpu0 = time.perf_counter(), time.process_time()
    if os.environ.get("BENCH_PROFILE"):  # a file name: the measured run under cProfile (slower; for reading)
        import cProfile

        with cProfile.Profile() as prof:
            report = asyncio.run(doctor_once(transport))
        prof.dump_stats(os.environ["BENCH_PROFILE"])
    else:
        report = asyncio.run(doctor_once(transport))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    peak = vm("VmHWM")
    from natoma_entra.sandbox.transport import longest_chain

    verdicts = {s.step: s.info.get("verdict") for s in report.steps}
    several = len(next(s for s in report.steps if s.step == "multiple-grants").info.get("data", {}).get("users", []))
    print(f"wall={wall:.2f} cpu={cpu:.2f} requests={len(transport.log)} chain={longest_chain(transport.spans)} "
          f"peak_mb={max(0, peak - before) / 2**20:.0f} rss_before_mb={before / 2**20:.0f} several={several}")
    print(f"verdicts: {verdicts}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--groups", type=int, default=1_000)
    ap.add_argument("--members", type=int, default=2_000)
    ap.add_argument("--latency", type=float, default=0.05, help="seconds added to every Graph request")
    ap.add_argument("--replay", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.replay:
        return replay(args.replay, args.latency)

    import pickle

    from natoma_entra.audit.reads import CONCURRENCY

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        tenant, _ = build(Path(tmp) / "sandbox.json", args.users, args.groups, args.members)
        nested = add_nested(tenant, args.groups)
        print(f"tenant: {args.users:,} users, {args.groups:,} assigned groups x {args.members:,} members = "
              f"{args.groups * args.members:,} memberships, {nested} nested groups (built in "
              f"{time.perf_counter() - t0:.1f} s); latency {args.latency * 1000:.0f} ms per request")
        rec = Recorder(Path(tmp))
        t0 = time.perf_counter()
        asyncio.run(doctor_once(rec.recording(tenant)))  # the sandbox's answers, kept on disk
        recorded = time.perf_counter() - t0
        (Path(tmp) / "index.pickle").write_bytes(pickle.dumps(rec.files))
        del tenant
        replayed = replay_elsewhere(__file__, tmp, args.latency)
        if replayed is None:
            return 1
        figures, lines = replayed
    pages = math.ceil((args.members + 1) / 999)
    after = 1 if nested else 0  # a nested group's users are read once the page that names it is in
    floor = 2 + pages + after
    floor_limited = 2 + math.ceil(args.groups / CONCURRENCY) * pages + after
    print(f"doctor: {float(figures['wall']):.1f} s wall, {float(figures['cpu']):.1f} s CPU; {int(figures['requests']):,} "
          f"requests; longest chain {figures['chain']} round trips (floor {floor}; {floor_limited} with {CONCURRENCY} "
          f"groups at a time); peak memory added {figures['peak_mb']} MB (RSS after start-up "
          f"{figures['rss_before_mb']} MB); users with several roles: {int(figures['several']):,}")
    print(lines[1])
    print(f"(the sandbox's answers were recorded first, in {recorded:.1f} s, and replayed with the latency in a "
          "process of its own)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
