"""examples/: the GitHub workflow's jobs run as GitHub Actions would run them (tests/shipping/pipelines.py), against the
sandbox: the plan in the pull request, exactly that plan applied on main, the drift check; the federated credential
subject each job is sent; the fix-one-step script fixes only what drifted. The tenants workflow and the Azure DevOps
pipeline: test_example_tenants.py, test_example_azure.py (files of their own, so the suite's two workers share them)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pipelines import CONFIG, REPO, ROOT, Runner, codes, github, github_eval, sandbox_shim, workflow
from test_action import oidc, run_action  # noqa: F401 - the fixture, and the action run step by step

from natoma_entra.sandbox.state import Tenant

pytestmark = pytest.mark.release  # pyproject.toml: left out by `pytest -m "not release"`


def _gh_stub(directory: Path, log: Path) -> None:
    """`gh` on PATH: records its arguments and the body file it is given."""
    gh = directory / "gh"
    gh.write_text(f'#!/bin/bash\nprintf "%s\\n" "$*" >> "{log}"\n'
                  f'while [ $# -gt 0 ]; do [ "$1" = --body-file ] && cp "$2" "{log}.body"; shift; done\n')
    gh.chmod(0o755)


def subject(job: dict, event: str) -> str:
    """The `sub` claim GitHub puts in a job's OIDC token (GitHub's OpenID Connect reference, "Example subject
    claims"): the environment when the job names one, whatever the event; else pull_request for a pull request; else
    the branch (a push to main, and a schedule, which runs on the default branch)."""
    env = job.get("environment")
    if env:
        return f"repo:OWNER/REPO:environment:{env if isinstance(env, str) else env['name']}"
    return "repo:OWNER/REPO:pull_request" if event == "pull_request" else "repo:OWNER/REPO:ref:refs/heads/main"


def test_the_github_workflow_states_the_subject_github_sends_each_job():
    """The issue's bug: the example told readers to trust ref:refs/heads/main while its job named an environment, so
    GitHub sent the environment subject and Entra refused (AADSTS700213). Each job's stated subject is the one GitHub
    sends for the events it runs on, and the nightly check runs without the approval environment."""
    text = (ROOT / "examples" / "github-actions.yml").read_text()
    wf = yaml.safe_load(text)
    header = [line for line in text.splitlines() if line.startswith("#   job ")]
    for name, event in (("plan", "pull_request"), ("plan", "push"), ("apply", "push"), ("drift", "schedule")):
        job = wf["jobs"][name]
        ctx = github(event, pull_request={"head": {"repo": {"full_name": REPO}}})
        assert github_eval(job["if"], ctx), f"{name} does not run on {event}"
        assert job["permissions"]["id-token"] == "write"
        sub = subject(job, event)
        assert any(line.startswith(f"#   job {name}") and sub in line for line in header), (name, event, sub)
    assert "environment" not in wf["jobs"]["drift"] and "environment" not in wf["jobs"]["plan"]
    assert wf["jobs"]["apply"]["environment"] == "entra" and wf["jobs"]["apply"]["needs"] == "plan"
    assert all(github_eval(wf["jobs"][j]["if"], github(e)) is False
               for j, e in (("apply", "pull_request"), ("drift", "push"), ("plan", "schedule")))
    tenants = (ROOT / "examples" / "github-actions-tenants.yml").read_text()
    job = yaml.safe_load(tenants)["jobs"]["drift"]
    assert "environment" not in job and subject(job, "schedule") in tenants


def test_the_github_workflow_plans_in_the_pull_request_and_applies_exactly_that_plan_on_main(tmp_path, oidc,
                                                                                           shell_env):
    wf = workflow("github-actions.yml")
    state, bin_dir, log = tmp_path / "tenant.json", tmp_path / "bin", tmp_path / "gh.log"
    sandbox_shim(bin_dir, state)
    _gh_stub(bin_dir, log)
    runner = Runner(tmp_path, [bin_dir], shell_env, extra_env=dict(oidc))

    def checkout(name: str) -> Path:
        ws = tmp_path / name
        ws.mkdir()
        (ws / "natoma-entra.toml").write_text(CONFIG)
        return ws

    # a pull request: the plan is made read-only and posted as one comment; nothing else runs
    pr = github("pull_request", number=7, pull_request={"number": 7, "head": {"repo": {"full_name": REPO}}})
    plan = runner.run_github_job(wf, "plan", pr, checkout("pr"), run_action)
    assert plan is not None and codes(plan) == [0, 0, 0], runner.ran
    assert runner.run_github_job(wf, "apply", pr, tmp_path, run_action) is None
    assert log.read_text().split() == ["pr", "comment", "7", "--edit-last", "--create-if-none", "--body-file",
                                       "natoma-entra-plan.md"]
    comment = Path(f"{log}.body").read_text()
    assert comment.startswith("### natoma-entra setup: plan\n") and "| + | create: role Admin (admin) |" in comment
    assert not state.exists() or not any(r.get("value") == "admin" for r in Tenant.load(state).find_app()["appRoles"])
    fork = github("pull_request", number=8, pull_request={"number": 8, "head": {"repo": {"full_name": "eve/fork"}}})
    assert runner.run_github_job(wf, "plan", fork, tmp_path, run_action) is None  # no OIDC token for forks

    # the merge: planned again on main, kept as an artifact, applied (after the environment's approval) exactly
    push = github("push")
    assert codes(runner.run_github_job(wf, "plan", push, checkout("main"), run_action)) == [0, 0]
    plan_doc = json.loads((runner.artifacts / "natoma-entra-plan" / "natoma-entra-plan.json").read_text())
    assert plan_doc["command"] == "setup" and plan_doc["needs_token"] is True
    apply_ws = tmp_path / "apply"
    assert codes(runner.run_github_job(wf, "apply", push, apply_ws, run_action)) == [0, 0, 0]
    applied = json.loads((runner.artifacts / "natoma-entra-apply" / "natoma-entra-apply.json").read_text())
    assert applied["command"] == "apply" and applied["ok"] and {s["status"] for s in applied["steps"]} == {"changed"}

    # nightly: only the drift job runs (read-only, without the environment); the same action step as the tenants
    # example's drift job, which test_example_tenants.py runs
    nightly = github("schedule")
    assert [j for j in wf["jobs"] if github_eval(wf["jobs"][j]["if"], nightly)] == ["drift"]
    step = next(st for st in wf["jobs"]["drift"]["steps"] if str(st.get("uses", "")).startswith("natoma/"))
    assert step["with"]["command"] == "status --exit-code"


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
