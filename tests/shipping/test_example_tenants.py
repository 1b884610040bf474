"""examples/github-actions-tenants.yml: one job per tenant config under tenants/, run as GitHub Actions would run its
matrix (tests/shipping/pipelines.py): each job signs in as its tenant's identity, reads only its tenant's config and
sandbox, writes only its own report; one tenant's drift neither stops nor fails another's job."""
import json
import shutil
import subprocess

import pytest
from pipelines import CLI, CONFIG, Runner, codes, github, workflow
from test_action import oidc, run_action  # noqa: F401 - the fixture, and the action run step by step

pytestmark = pytest.mark.release  # pyproject.toml: left out by `pytest -m "not release"`

TENANT_SHIM = """#!/bin/bash
# the sandbox of the tenant whose config the run is given: tenants/NAME.toml -> NAME.json, one state file each
state="{root}/default.json"
args=("$@")
for ((i = 0; i < ${{#args[@]}}; i++)); do
  if [ "${{args[i]}}" = --config ]; then name=$(basename "${{args[i+1]}}" .toml); state="{root}/$name.json"; fi
done
echo "${{AZURE_CLIENT_ID:-}} $state" >> "{root}/runs.log"
exec "{cli}" --sandbox --sandbox-state "$state" "$@"
"""


def test_the_tenants_workflow_runs_one_job_per_tenant_with_nothing_shared(tmp_path, oidc, shell_env):
    wf = workflow("github-actions-tenants.yml")
    drift = wf["jobs"]["drift"]
    assert drift["strategy"]["fail-fast"] is False
    assert "matrix.tenant.name" in drift["concurrency"]["group"] and drift["concurrency"]["cancel-in-progress"] is False
    bin_dir, states = tmp_path / "bin", tmp_path / "states"
    bin_dir.mkdir()
    states.mkdir()
    shim = bin_dir / "natoma-entra"
    shim.write_text(TENANT_SHIM.format(root=states, cli=CLI))
    shim.chmod(0o755)
    ws = tmp_path / "repo"
    (ws / "tenants").mkdir(parents=True)
    for name in ("contoso", "fabrikam"):
        (ws / "tenants" / f"{name}.toml").write_text(CONFIG.replace("contoso.onmicrosoft.com", f"{name}.example"))
    setup = subprocess.run([str(shim), "--config", "tenants/contoso.toml", "setup"], cwd=ws, capture_output=True,
                           text=True, env=shell_env(tmp_path), timeout=300)
    assert setup.returncode == 0, setup.stderr  # contoso is in place; fabrikam was never set up
    (states / "runs.log").unlink()
    runner = Runner(tmp_path, [bin_dir], shell_env, extra_env=dict(oidc))
    ctx = github("schedule")
    ctx["vars"].update(AZURE_CLIENT_ID_CONTOSO="11111111-0000-0000-0000-00000000c0e0",
                       AZURE_CLIENT_ID_FABRIKAM="22222222-0000-0000-0000-0000000fab00")
    listed = runner.run_github_job(wf, "tenants", ctx, ws, run_action)
    tenants = json.loads(listed["outputs"]["tenants"])
    assert [t["name"] for t in tenants] == ["contoso", "fabrikam"]
    ctx["needs"] = {"tenants": {"outputs": listed["outputs"]}}
    for i, _t in enumerate(tenants):  # each job gets its own checkout of the repository
        shutil.copytree(ws, tmp_path / "jobs" / f"drift-{i}")
    jobs = runner.run_github_job(wf, "drift", ctx, tmp_path / "jobs", run_action)["matrix"]
    assert [codes(j) for j in jobs] == [[0, 0], [3, 0]]  # fabrikam's drift did not stop or fail contoso's job
    runs = (states / "runs.log").read_text().split("\n")
    assert any(line.startswith("11111111-0000-0000-0000-00000000c0e0 ") and line.endswith("contoso.json")
               for line in runs)
    assert any(line.startswith("22222222-0000-0000-0000-0000000fab00 ") and line.endswith("fabrikam.json")
               for line in runs)
    reports = {t["name"]: json.loads((runner.artifacts / f"natoma-entra-{t['name']}" /
                                      "natoma-entra-status.json").read_text()) for t in tenants}
    assert reports["contoso"]["exit_code"] == 0 and reports["fabrikam"]["exit_code"] == 3
    assert not (states / "default.json").exists()  # no run fell back to a state of another
