"""examples/: the workflows use the action with inputs it has; the fix-one-step script fixes only what drifted."""
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTION_INPUTS = set(yaml.safe_load((ROOT / "action.yml").read_text())["inputs"])


def test_the_github_workflow_uses_the_action_with_oidc_nightly_and_on_demand():
    wf = yaml.safe_load((ROOT / "examples" / "github-actions.yml").read_text())
    on = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads the key `on` as True
    assert "schedule" in on and "workflow_dispatch" in on
    assert wf["permissions"]["id-token"] == "write"
    steps = wf["jobs"]["natoma-entra"]["steps"]
    uses = [s for s in steps if str(s.get("uses", "")).startswith("natoma/natoma-entra@")]
    assert len(uses) == 1 and set(uses[0]["with"]) <= ACTION_INPUTS
    assert "status --exit-code" in uses[0]["with"]["command"] and "setup" in str(on["workflow_dispatch"])
    upload = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert upload and upload[0]["with"]["path"] == uses[0]["with"]["output-file"]


def test_the_azure_devops_pipeline_parses_and_signs_in_with_the_cli():
    p = yaml.safe_load((ROOT / "examples" / "azure-pipelines.yml").read_text())
    cli = [s for s in p["steps"] if s.get("task") == "AzureCLI@2"]
    assert cli and "--auth cli" in cli[0]["inputs"]["inlineScript"]
    assert p["schedules"] and any(s.get("task", "").startswith("PublishPipelineArtifact") for s in p["steps"])


def test_fix_one_step_fixes_only_the_step_that_drifted(sandbox):
    assert sandbox.set_up().code == 0
    tenant = sandbox.tenant()
    aid = next(iter(tenant.state["appRoleAssignments"]))  # someone removed one group's assignment by hand
    del tenant.state["appRoleAssignments"][aid]
    sandbox.save(tenant)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", NO_COLOR="1")
    r = subprocess.run(["bash", str(ROOT / "examples" / "fix-one-step.sh"), "--yes", "--sandbox", "--sandbox-state",
                        str(sandbox.path)], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert [line for line in r.stdout.splitlines() if line.startswith("== ")] == ["== assign: not in place"]
    assert aid in sandbox.tenant().state["appRoleAssignments"]  # put back (ids are deterministic)
    assert sandbox.cli("--exit-code", "status").code == 0
