"""action.yml: its shell steps run with bash as GitHub runs a composite action's steps (inputs substituted, GITHUB_ENV,
GITHUB_PATH, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files between steps), against the sandbox, with the CLI installed
from the built wheel."""
from __future__ import annotations

import json
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml

import natoma_entra

pytestmark = pytest.mark.release  # pyproject.toml: left out by `pytest -m "not release"`

ROOT = Path(__file__).resolve().parents[2]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())


def _expand(text: str, inputs: dict) -> str:
    return re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: str(inputs[m.group(1)]), text)


def _condition(expr: str | None, inputs: dict) -> bool:
    if expr is None:
        return True
    m = re.fullmatch(r"\s*inputs\.([\w-]+)\s*==\s*'([^']*)'\s*", expr)
    assert m, f"the test runner does not know the condition {expr!r}"
    return inputs[m.group(1)] == m.group(2)


def run_action(clean_env, tmp: Path, given: dict, path_dirs: list[Path], extra_env: dict | None = None):
    """Run every step like a GitHub runner; stop at the first failing step. Returns (code, env files, outputs)."""
    inputs = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()}
    unknown = set(given) - set(inputs)
    assert not unknown, f"not inputs of action.yml: {unknown}"
    inputs.update(given)
    files = {k: tmp / k.lower() for k in ("GITHUB_ENV", "GITHUB_PATH", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")}
    for f in files.values():
        f.write_text("")
    env = clean_env(tmp, {"RUNNER_TEMP": str(tmp), "GITHUB_ACTIONS": "true", **{k: str(v) for k, v in files.items()},
                          **(extra_env or {})})
    env["PATH"] = ":".join([*map(str, path_dirs), env["PATH"]])
    code, ran = 0, []
    for i, step in enumerate(ACTION["runs"]["steps"]):
        if not _condition(step.get("if"), inputs):
            continue
        assert step["shell"] == "bash"
        script = tmp / f"step{i}.sh"
        script.write_text(_expand(step["run"], inputs))
        step_env = dict(env, **{k: _expand(str(v), inputs) for k, v in (step.get("env") or {}).items()})
        # GitHub runs `shell: bash` as: bash --noprofile --norc -eo pipefail {0}
        p = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], env=step_env, cwd=tmp,
                           capture_output=True, text=True, timeout=300)
        ran.append((step["name"], p))
        for line in files["GITHUB_ENV"].read_text().splitlines():
            k, _, v = line.partition("=")
            env[k] = v
        extra_path = [line for line in files["GITHUB_PATH"].read_text().splitlines() if line]
        env["PATH"] = ":".join([*reversed(extra_path), *[p for p in env["PATH"].split(":") if p not in extra_path]])
        if p.returncode != 0:
            code = p.returncode
            break
    outputs = dict(line.split("=", 1) for line in files["GITHUB_OUTPUT"].read_text().splitlines() if "=" in line)
    return code, ran, outputs, files, env


class _OidcStub(BaseHTTPRequestHandler):
    seen: list = []

    def do_GET(self):  # noqa: N802 - http.server's name
        _OidcStub.seen.append((self.path, self.headers.get("Authorization")))
        body = json.dumps({"value": "header.payload.signature"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def oidc():
    srv = HTTPServer(("127.0.0.1", 0), _OidcStub)
    _OidcStub.seen = []
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield {"ACTIONS_ID_TOKEN_REQUEST_URL": f"http://127.0.0.1:{srv.server_port}/token?api-version=2.0",
           "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runner-request-token"}
    srv.shutdown()
    srv.server_close()


def test_the_action_pins_this_version():
    assert ACTION["inputs"]["version"]["default"] == natoma_entra.__version__
    assert ACTION["inputs"]["auth"]["default"] == "workload-identity"
    assert ACTION["runs"]["using"] == "composite"


def test_setup_through_the_action_with_workload_identity(installed, tmp_path, oidc, shell_env):
    state = tmp_path / "sandbox.json"
    code, ran, outputs, files, env = run_action(
        shell_env, tmp_path, {"command": f"setup --sandbox --sandbox-state {state}", "output-file": "out/report.json",
                   "client-id": "11111111-2222-3333-4444-555555555555"},
        [installed.bin], oidc)
    assert code == 0, [(n, p.stdout[-1500:], p.stderr[-1500:]) for n, p in ran]
    # installed already (the wheel's CLI on PATH at the pinned version): no second install
    assert f"natoma-entra {natoma_entra.__version__} is already installed" in ran[0][1].stdout
    # the OIDC token was asked for Entra's audience with the runner's request token, kept in a file, never printed
    (path, auth), = _OidcStub.seen
    assert "audience=api://AzureADTokenExchange" in path and auth == "Bearer runner-request-token"
    token_file = Path(env["AZURE_FEDERATED_TOKEN_FILE"])
    assert token_file.read_text() == "header.payload.signature"
    assert all("header.payload.signature" not in p.stdout + p.stderr for _n, p in ran)
    # the report is the CLI's JSON document; the summary names each step; the output carries the exit code
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    assert doc["ok"] is True and [s["status"] for s in doc["steps"]] == ["changed"] * 5
    summary = files["GITHUB_STEP_SUMMARY"].read_text()
    assert "### natoma-entra setup: done" in summary and "**Exit 0** (done)" in summary
    assert "| credentials | changed |" in summary
    assert outputs["exit-code"] == "0"


def test_a_drift_check_fails_the_step_with_the_clis_exit_code(installed, tmp_path, shell_env):
    state = tmp_path / "sandbox.json"
    code, ran, outputs, files, _env = run_action(
        shell_env, tmp_path, {"command": f"status --exit-code --sandbox --sandbox-state '{state}'", "auth": "access-token"},
        [installed.bin])
    assert code == 3, [(n, p.stderr[-1500:]) for n, p in ran]
    assert [n for n, _p in ran] == ["Install natoma-entra", "Run natoma-entra"]  # no OIDC step for access-token
    assert outputs["exit-code"] == "3"
    assert "**Exit 3** (changes pending)" in files["GITHUB_STEP_SUMMARY"].read_text()
    doc = json.loads((tmp_path / "natoma-entra-report.json").read_text())
    assert doc["command"] == "status" and any(s["info"].get("state") == "missing" for s in doc["steps"])


def test_bad_input_fails_with_2_and_the_report_says_why(installed, tmp_path, shell_env):
    code, ran, outputs, files, _env = run_action(
        shell_env, tmp_path, {"command": f"assign --group 'admin=No Such Group' --sandbox --sandbox-state {tmp_path / 's.json'}",
                   "auth": "access-token"}, [installed.bin])
    assert code == 2 and outputs["exit-code"] == "2"
    doc = json.loads((tmp_path / "natoma-entra-report.json").read_text())
    assert doc["ok"] is False and "No Such Group" in doc["error"]  # the quoted group name reached the CLI whole
    assert "**Error**: no group named 'No Such Group'" in files["GITHUB_STEP_SUMMARY"].read_text()


def test_workload_identity_without_id_token_permission_says_what_to_add(installed, tmp_path, shell_env):
    code, ran, _outputs, _files, _env = run_action(shell_env, tmp_path, {"command": "status"}, [installed.bin])
    assert code == 2
    name, p = ran[-1]
    assert name.startswith("Get the GitHub OIDC token") and "id-token: write" in p.stdout


def test_a_setup_stopped_before_writing_counts_no_change_in_the_summary(installed, tmp_path, shell_env):
    """Issue 26: a rejected SCIM token stops setup before its first write; the job summary's table counts no change
    for any step (the skipped ones carry none, and the failed one's plan was not carried out)."""
    state = tmp_path / "s.json"
    code, ran, outputs, files, _env = run_action(
        shell_env, tmp_path, {"command": f"setup --sandbox --sandbox-state {state}", "auth": "access-token"},
        [installed.bin], {"NATOMA_SCIM_TOKEN": "wrong"})
    assert code == 1 and outputs["exit-code"] == "1", [(n, p.stderr[-1500:]) for n, p in ran]
    summary = files["GITHUB_STEP_SUMMARY"].read_text()
    table = summary.split("| step | result | changes |\n|---|---|---|\n", 1)[1].split("\n\n", 1)[0]
    assert table.splitlines() == ["| roles | skipped | - |", "| assign | skipped | - |", "| mapping | skipped | - |",
                                  "| credentials | failed | - |", "| start | skipped | - |"], summary
    assert "| | not made | why |" in summary.replace("|  |", "| |") and "| | change |" not in summary


def test_a_command_input_with_an_unbalanced_quote_is_bad_input_not_a_run_without_a_command(installed, tmp_path,
                                                                                           shell_env):
    """Issue 26: the command input is split as a shell would; one it cannot split is said (an annotation and the job
    summary), exit 2, and natoma-entra is not run (it ran with no command after a Python traceback)."""
    code, ran, outputs, files, _env = run_action(
        shell_env, tmp_path, {"command": "assign --group 'admin=Natoma Admins --sandbox", "auth": "access-token"},
        [installed.bin])
    assert code == 2 and outputs["exit-code"] == "2"
    name, p = ran[-1]
    assert name == "Run natoma-entra"
    assert "Traceback" not in p.stdout + p.stderr, p.stderr
    assert p.stdout.splitlines() == ["::error::the command input cannot be split as a shell would (no closing "
                                     "quotation): balance its quotes"], p.stdout
    assert not (tmp_path / "natoma-entra-report.json").exists()  # natoma-entra did not run
    summary = files["GITHUB_STEP_SUMMARY"].read_text()
    assert "exit 2 (bad usage or input)" in summary and "no closing quotation" in summary
