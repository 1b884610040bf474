"""examples/azure-pipelines.yml (with its step template): its stages run as Azure Pipelines would run them
(tests/shipping/pipelines.py) against the sandbox: the plan on a pull request (its comment posted through the
threads API), the plan then the apply on main, the drift check on the schedule; each signs in with its service
connection's OIDC token, asked of Azure DevOps with the job's access token, and no Azure subscription."""
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import yaml
from pipelines import CONFIG, ROOT, VARS, AdoRun, sandbox_shim

from natoma_entra.sandbox.state import NATOMA_TOKEN, Tenant

pytestmark = pytest.mark.release  # pyproject.toml: left out by `pytest -m "not release"`


class _AzureDevOps(BaseHTTPRequestHandler):
    """Azure DevOps' OIDC token endpoint and its pull request threads API, recording what they were sent."""

    seen: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        _AzureDevOps.seen.append((self.path, self.headers.get("Authorization"), body))
        data = json.dumps({"oidcToken": "header.payload.signature"} if self.path.startswith("/oidc") else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_the_azure_pipeline_plans_applies_after_approval_and_checks_drift(tmp_path, shell_env):
    pipeline = yaml.safe_load((ROOT / "examples" / "azure-pipelines.yml").read_text())
    apply_job = next(s for s in pipeline["stages"] if s["stage"] == "apply")["jobs"][0]
    assert apply_job["environment"] == "natoma-entra"  # the Approvals check holds the stage
    drift = next(s for s in pipeline["stages"] if s["stage"] == "drift")
    assert all("environment" not in j for j in drift["jobs"])
    text = (ROOT / "examples" / "azure-pipelines.yml").read_text() + \
        (ROOT / "examples" / "azure-pipelines-natoma-entra.yml").read_text()
    # the prerequisite is stated, and the path that needs no subscription is the one taken
    assert "microsoft/azure-pipelines-tasks#18757" in text and "task: AzureCLI@2" not in text

    srv = HTTPServer(("127.0.0.1", 0), _AzureDevOps)
    _AzureDevOps.seen = []
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_port}"
    state = tmp_path / "tenant.json"
    sandbox_shim(tmp_path / ".local" / "bin", state)
    try:
        def run(reason: str, branch: str, name: str) -> AdoRun:
            workspace = tmp_path / name
            (workspace / "s").mkdir(parents=True)
            (workspace / "s" / "natoma-entra.toml").write_text(CONFIG)
            variables = {"Build.Reason": reason, "Build.SourceBranch": branch, "Build.Repository.Provider": "TfsGit",
                         "Pipeline.Workspace": str(workspace), "Agent.TempDirectory": str(tmp_path),
                         "System.OidcRequestUri": f"{base}/oidc", "System.AccessToken": "ado-job-token",
                         "System.CollectionUri": f"{base}/org/", "System.TeamProject": "proj",
                         "Build.Repository.ID": "repo-1", "System.PullRequest.PullRequestId": "7",
                         "READ_CONNECTION_ID": "read-conn", "WRITE_CONNECTION_ID": "write-conn",
                         "READ_CLIENT_ID": VARS["AZURE_CLIENT_ID_READ"], "WRITE_CLIENT_ID": VARS["AZURE_CLIENT_ID"],
                         "AZURE_TENANT_ID": "contoso.onmicrosoft.com", "NATOMA_SCIM_TOKEN": NATOMA_TOKEN}
            ado = AdoRun(ROOT / "examples", tmp_path, variables, shell_env,
                         secrets={"System.AccessToken", "NATOMA_SCIM_TOKEN"})
            ado.run(pipeline)
            return ado

        pr = run("PullRequest", "refs/pull/7/merge", "pr")
        assert pr.stages == {"plan": [0, 0, 0]}, pr.logs  # the plan, the comment, the artifact
        oidc_calls = [(p, a) for p, a, _b in _AzureDevOps.seen if p.startswith("/oidc")]
        assert oidc_calls == [("/oidc?api-version=7.1&serviceConnectionId=read-conn", "Bearer ado-job-token")]
        thread = next(json.loads(b) for p, _a, b in _AzureDevOps.seen if "/pullRequests/7/threads" in p)
        assert thread["comments"][0]["content"].startswith("### natoma-entra setup: plan\n")
        assert not state.exists() or not Tenant.load(state).state["appRoleAssignments"]

        _AzureDevOps.seen = []
        main = run("IndividualCI", "refs/heads/main", "main")
        assert main.stages == {"plan": [0, 0], "apply": [0, 0]}, main.logs  # no comment off a pull request
        assert [p for p, _a, _b in _AzureDevOps.seen] == ["/oidc?api-version=7.1&serviceConnectionId=read-conn",
                                                           "/oidc?api-version=7.1&serviceConnectionId=write-conn"]
        assert len(Tenant.load(state).state["appRoleAssignments"]) == 3

        # the schedule runs the drift stage alone (the same template, with `status --exit-code`)
        assert AdoRun(ROOT / "examples", tmp_path, {"Build.Reason": "Schedule"}, shell_env).selected(pipeline) == \
            ["drift"]
        drift_step = next(st for st in drift["jobs"][0]["steps"] if "template" in st)
        assert drift_step["parameters"]["command"].endswith("status --exit-code")
    finally:
        srv.shutdown()
        srv.server_close()
