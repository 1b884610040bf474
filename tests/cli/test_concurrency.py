"""Two `setup` runs at the same time against one tenant converge: no duplicate role, assignment or job."""
import os
import subprocess
import sys


from natoma_entra.sandbox.natoma import standin_for
from natoma_entra.sandbox.state import ACCESS_TOKEN, NATOMA_TOKEN




def test_two_setups_at_once_converge(server, tmp_path):
    env = {**os.environ, "NATOMA_ENTRA_ACCESS_TOKEN": ACCESS_TOKEN, "NATOMA_SCIM_TOKEN": NATOMA_TOKEN}
    args = [sys.executable, "-m", "natoma_entra", "--auth", "access-token", "--graph-endpoint", server.url + "/v1.0",
            "--app", "Natoma", "--quiet", "setup", "--scim-url", server.url + "/scim/v2",
            "--group", "admin=Natoma Admins", "--group", "AppAdmin=Natoma App Admins", "--group", "member=Natoma Members"]
    procs = [subprocess.Popen(args, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    t = server.tenant
    sp = t.find_sp("Natoma")
    values = [r.get("value") for r in t.find_app("Natoma")["appRoles"] if r.get("value")]
    assert sorted(values) == ["AppAdmin", "admin", "member"]
    pairs = [(a["principalId"], a["appRoleId"]) for a in t.state["appRoleAssignments"].values()]
    assert len(pairs) == len(set(pairs)) == 3
    assert len(t.state["jobs"][sp["id"]]) == 1
    assert {u["userName"].split("@")[0] for u in standin_for(t).users()} == {"AdeleV", "AlexW", "MeganB"}
