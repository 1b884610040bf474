"""By hand, not a test: `doctor` at scale against the sandbox, with injected latency.

A sandbox tenant after `setup`, plus GROUPS extra security groups of MEMBERS users each, every one assigned to the
app with a Natoma role (users overlap between neighbouring groups, so some hold two roles), and a nested group in
every tenth group. Each Graph request waits LATENCY seconds (natoma_entra.sandbox.faults.latency). Prints the
request count and the wall time of one `doctor` run.

    .venv/bin/python benchmarks/bench_doctor.py [--groups 300] [--members 30] [--latency 0.05]
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path


def build(path: Path, groups: int, members: int) -> None:
    from natoma_entra.cli.main import run
    from natoma_entra.sandbox.state import NATOMA_TOKEN, Tenant, assignment_id, group_id, user_id

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
    roles = [r["id"] for r in sp["appRoles"] if r.get("value") in ("admin", "AppAdmin", "member")]
    for gi in range(groups):
        name = f"Team {gi:04d}"
        gid = group_id(name)
        st["groups"][gid] = {"id": gid, "displayName": name, "securityEnabled": True, "mailEnabled": False,
                             "groupTypes": [], "mailNickname": name.replace(" ", "")}
        ids = []
        for mi in range(members):
            n = gi * members + mi
            if gi and mi % 10 == 5:  # every tenth member is also in the previous group (another role)
                n = (gi - 1) * members + mi - 1
            uid = user_id(f"Bench {n}")
            st["users"].setdefault(uid, {"id": uid, "displayName": f"Bench {n}",
                                         "userPrincipalName": f"bench{n}@contoso.onmicrosoft.com",
                                         "accountEnabled": True})
            ids.append(uid)
        st["members"][gid] = ids
        if gi % 10 == 0:  # a nested group, its users in no assigned group directly
            nid = group_id(f"Nested {gi}")
            st["groups"][nid] = {"id": nid, "displayName": f"Nested {gi}", "securityEnabled": True,
                                 "mailEnabled": False, "groupTypes": []}
            nu = user_id(f"Nested user {gi}")
            st["users"][nu] = {"id": nu, "displayName": f"Nested user {gi}",
                               "userPrincipalName": f"nested{gi}@contoso.onmicrosoft.com", "accountEnabled": True}
            st["members"][nid] = [nu]
            ids.append(nid)
        rid = roles[gi % len(roles)]
        aid = assignment_id(gid, sp["id"], rid)
        st["appRoleAssignments"][aid] = {
            "id": aid, "appRoleId": rid, "principalId": gid, "principalType": "Group", "principalDisplayName": name,
            "resourceId": sp["id"], "resourceDisplayName": "Natoma", "createdDateTime": "2024-01-01T00:00:00Z"}
    t.save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--groups", type=int, default=300)
    ap.add_argument("--members", type=int, default=30)
    ap.add_argument("--latency", type=float, default=0.05, help="seconds added to every Graph request")
    args = ap.parse_args()

    from natoma_entra.cli.main import run
    from natoma_entra.sandbox import faults

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sandbox.json"
        t0 = time.perf_counter()
        build(path, args.groups, args.members)
        print(f"tenant: {args.groups} assigned groups x {args.members} members (built in "
              f"{time.perf_counter() - t0:.1f} s); latency {args.latency * 1000:.0f} ms per request")
        from natoma_entra.cli.application import Application
        from natoma_entra.sandbox.options import SandboxOptions

        application = Application(sandbox_options=SandboxOptions(faults=[faults.latency(args.latency)]))
        out = io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            try:
                run(["--sandbox", "--sandbox-state", str(path), "--output", "json", "doctor"], application=application)
                code = 0
            except SystemExit as e:
                code = e.code
        wall = time.perf_counter() - t0
        log = [r for _, tr in application.opened for r in tr.log]
        kinds = collections.Counter(p.split("?")[0].rsplit("/", 1)[-1] if "/groups/" in p else p.split("?")[0]
                                    for _, p, _ in log)
        repeated = [k for k, v in collections.Counter((m, p) for m, p, _ in log).items() if v > 1]
        import json

        doc = json.loads(out.getvalue())
        verdicts = {s["step"]: s["info"]["verdict"] for s in doc["steps"]}
        flagged = len(next(s for s in doc["steps"] if s["step"] == "multiple-grants")["info"]
                      .get("data", {}).get("users", []))
        print(f"doctor: exit {code}, {len(log)} requests, {wall:.2f} s wall "
              f"(sequential would be about {len(log) * args.latency:.1f} s of latency alone)")
        print(f"requests by kind: {dict(kinds.most_common(6))}")
        print(f"repeated requests: {len(repeated)}")
        print(f"verdicts: {verdicts}; users with several roles: {flagged}")


if __name__ == "__main__":
    sys.exit(main())
