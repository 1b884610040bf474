"""What the scale benchmarks (bench_audit.py, bench_doctor.py) share: the tenant at scale, reading the process's
memory, and recording the sandbox's answers to replay them in a process of their own."""
from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sys
import time
from pathlib import Path

ROLE_EVERY = 100  # groups in a row that share a role


def build(path: Path, users: int, groups: int, members: int):
    """The tenant (in memory), and what Natoma should hold: [(userName, roles)]."""
    from natoma_entra.cli.main import run
    from natoma_entra.sandbox.state import NATOMA_TOKEN, Tenant, assignment_id

    Tenant.initial().save(path)
    os.environ["NATOMA_SCIM_TOKEN"] = NATOMA_TOKEN
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            run(["--sandbox", "--sandbox-state", str(path), "setup"])
        except SystemExit:
            pass
    t = Tenant.load(path)
    st = t.state
    sp = t.find_sp()
    role_ids = {r["value"]: r["id"] for r in sp["appRoles"] if r.get("value") in ("admin", "AppAdmin", "member")}
    values = list(role_ids)
    uids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(users)]
    for n, uid in enumerate(uids):
        st["users"][uid] = {"id": uid, "displayName": f"Bench {n}", "userPrincipalName": f"bench{n}@contoso.onmicrosoft.com",
                            "accountEnabled": True}
    stride = max(1, users // groups)
    grants: dict[int, set[str]] = {}
    for gi in range(groups):
        gid = f"10000000-0000-4000-8000-{gi:012d}"
        st["groups"][gid] = {"id": gid, "displayName": f"Team {gi:05d}", "securityEnabled": True,
                             "mailEnabled": False, "groupTypes": []}
        value = values[(gi // ROLE_EVERY) % len(values)]
        ids = []
        for k in range(members):
            n = (gi * stride + k) % users
            ids.append(uids[n])
            grants.setdefault(n, set()).add(value)
        st["members"][gid] = ids
        rid = role_ids[value]
        aid = assignment_id(gid, sp["id"], rid)
        st["appRoleAssignments"][aid] = {
            "id": aid, "appRoleId": rid, "principalId": gid, "principalType": "Group",
            "principalDisplayName": f"Team {gi:05d}", "resourceId": sp["id"], "resourceDisplayName": "Natoma",
            "createdDateTime": "2024-01-01T00:00:00Z"}
    natoma = [(f"bench{n}@contoso.onmicrosoft.com", sorted(r)[:1]) for n, r in sorted(grants.items())]
    natoma = natoma[5:]  # 5 missing
    single = [i for i, (n, _) in enumerate(natoma) if len(grants[int(n[5:].split("@")[0])]) == 1][:5]
    for i in single:  # 5 with a wrong role
        name, roles = natoma[i]
        natoma[i] = (name, ["AppAdmin" if roles != ["AppAdmin"] else "admin"])
    natoma += [(f"orphan{i}@contoso.onmicrosoft.com", ["member"]) for i in range(5)]  # 5 out of scope
    return t, natoma


def vm(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def replay_elsewhere(script: str, folder: str, latency: float) -> tuple[dict, list[str]] | None:
    """`script --replay folder --latency L` in a process of its own (so its memory is the command's alone): its first
    line of output is key=value figures, the rest is printed by the caller. None (the output shown) on failure; the
    replay's stderr is left on the terminal (BENCH_TIMELINE's lines)."""
    import subprocess

    out = subprocess.run([sys.executable, script, "--replay", folder, "--latency", str(latency)],
                         stdout=subprocess.PIPE, text=True)
    if out.returncode:
        print(out.stdout)
        return None
    lines = out.stdout.splitlines()
    return dict(kv.split("=") for kv in lines[0].split()), lines


class Recorder:
    """Answers from the sandbox once, keeping each answer on disk, then replays them: the second run does all of
    doctor's own work (HTTP stack, JSON, folding, checks) with only the injected latency for Graph's time, so its
    wall time, CPU and memory are doctor's, not the sandbox's."""

    def __init__(self, folder: Path):
        self.folder, self.files = folder, {}

    @staticmethod
    def key(request) -> tuple:
        return request.method, str(request.url), request.content

    def recording(self, tenant):
        from natoma_entra.sandbox.transport import SandboxTransport

        rec = self

        class Recording(SandboxTransport):
            async def handle_async_request(self, request):
                resp = await super().handle_async_request(request)
                path = rec.folder / f"{len(rec.files)}.bin"
                path.write_bytes(resp.content)
                rec.files[rec.key(request)] = (resp.status_code, list(resp.headers.items()), path)
                return resp

        return Recording(tenant)

    def replaying(self, latency: float):
        import httpx

        rec = self

        class Replaying(httpx.AsyncBaseTransport):
            def __init__(self):
                self.log, self.spans = [], []

            async def handle_async_request(self, request):
                start = time.monotonic()
                await request.aread()
                await asyncio.sleep(latency)
                status, headers, path = rec.files[rec.key(request)]
                resp = httpx.Response(status, headers=headers, content=path.read_bytes(), request=request)
                self.log.append((request.method, request.url.raw_path.decode(), status))
                self.spans.append((start, time.monotonic()))
                return resp

        return Replaying()


