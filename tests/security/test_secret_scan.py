"""No bearer token is ever printed or written: run the main commands with recognisable fake Graph and SCIM tokens, in
every --auth mode the tests can fake, against `sandbox serve` and against a server that echoes the Authorization
header back in its error bodies (raw, JSON-escaped, URL-encoded, bytes-repr, and cut at 200 characters), and search
stdout, stderr, the JSON documents and every file written for each token and its 16-character prefixes. Every run
writes the --trace file (NATOMA_ENTRA_TRACE), which is searched for both tokens like every other file.

azure-identity's credentials are replaced by fakes that hand out the mode's token (no sign-in happens in tests);
what is under test is that whatever a credential returns is registered for redaction before it is used.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest

from natoma_entra.sandbox.natoma import standin_for
from natoma_entra.sandbox.serve import make_server

MODES = ("access-token", "client-secret", "certificate", "cli", "managed-identity", "workload-identity", "default",
         "device-code", "browser")
CREDENTIALS = ("AzureCliCredential", "CertificateCredential", "ClientSecretCredential", "DefaultAzureCredential",
               "DeviceCodeCredential", "InteractiveBrowserCredential", "ManagedIdentityCredential",
               "WorkloadIdentityCredential")
ECHO_FORMS = ("raw", "json-escaped", "url-encoded", "bytes-repr", "html-cut-at-200")
CONFIG = """
[groups]
admin = ["Natoma Admins"]
AppAdmin = ["Natoma App Admins"]
member = ["Natoma Members"]

[scim]
url = "{url}"
"""
GROUPS = ("--group", "admin=Natoma Admins", "--group", "AppAdmin=Natoma App Admins", "--group", "member=Natoma Members")


def graph_token(mode: str) -> str:
    # distinct in their first 16 characters, so a prefix found is this token's own; '/', '+' and '=' escape differently
    return f"graph-{mode}-fake-token/0123456789+abcdef=0123456789abcdef"


def scim_token(mode: str) -> str:
    return f"scim-{mode}-fake-token-0123456789abcdef0123456789abcdef"


def leaks(text: str, secret: str) -> list[str]:
    """The spellings of `secret` (and of its first 16+ characters) found in text."""
    forms = {secret, json.dumps(secret)[1:-1], quote(secret, safe=""), quote(secret), secret[:16], secret[:24],
             quote(secret[:24], safe="")}
    return sorted(f for f in forms if f in text)


class FakeCredential:
    """Stands in for every azure-identity credential: hands out the token of the mode under test."""

    token = ""

    def __init__(self, *args, **kwargs):
        pass

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        return AccessToken(FakeCredential.token, 4102444800)

    def close(self):
        pass


class _Echo(BaseHTTPRequestHandler):
    """Answers every request with an error that repeats the Authorization header, in the server's chosen form."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        auth = self.headers.get("Authorization", "")
        form = self.server.form
        ctype = "application/json"
        if form == "raw":
            status, body = 401, json.dumps({"error": {"code": "InvalidAuthenticationToken",
                                                      "message": f"Token not accepted: {auth}"}})
        elif form == "json-escaped":
            status, body = 400, json.dumps({"error": {"code": "BadRequest",
                                                      "message": "header was " + json.dumps({"Authorization": auth})}})
        elif form == "url-encoded":
            status, body = 400, json.dumps({"error": {"code": "BadRequest",
                                                      "message": "see https://login.example/?h=" + quote(auth, safe="")}})
        elif form == "bytes-repr":
            status, body = 400, json.dumps({"error": {"code": "BadRequest",
                                                      "message": "Illegal header value " + repr(auth.encode() + b"\n")}})
        else:  # an HTML error page that our error parser cuts at 200 characters: the cut falls inside the token
            ctype, status = "text/html", 502
            head = "<html><head><title>502 Bad Gateway</title></head><body><p>upstream rejected: "
            head += "." * (200 - len(head) - len("Bearer ") - 30)
            body = head + auth + "</p></body></html>"
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # a client that gave up (its run ended): not this test's subject
            pass

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer


@pytest.fixture
def echo():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    srv.daemon_threads = True
    srv.form = "raw"
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()


class Runner:
    def __init__(self, mode, tmp_path, monkeypatch, capsys):
        import azure.identity

        self.mode, self.tmp, self.capsys = mode, tmp_path, capsys
        self.graph, self.scim = graph_token(mode), scim_token(mode)
        self.results: list[tuple[list[str], int, str, str]] = []
        FakeCredential.token = self.graph
        for name in CREDENTIALS:
            monkeypatch.setattr(azure.identity, name, FakeCredential)
        env = {"NATOMA_SCIM_TOKEN": self.scim, "AZURE_CLIENT_ID": "00000000-0000-0000-0000-0000000000c1",
               "AZURE_TENANT_ID": "contoso.onmicrosoft.com", "HOME": str(tmp_path / "home"),
               "XDG_STATE_HOME": str(tmp_path / "xdg"), "NATOMA_ENTRA_TRACE": str(tmp_path / "trace.jsonl")}
        if mode == "access-token":
            env["NATOMA_ENTRA_ACCESS_TOKEN"] = self.graph + "\n"  # as `$(cat file)` or a CI secret store gives it
        if mode == "client-secret":
            env["AZURE_CLIENT_SECRET"] = f"{mode}-fake-client-secret-0123456789abcdef"
        if mode == "certificate":
            (tmp_path / "cert.pem").write_text("not read: the credential is faked\n")
            env["AZURE_CLIENT_CERTIFICATE_PATH"] = str(tmp_path / "cert.pem")
        if mode == "workload-identity":
            (tmp_path / "federated").write_text("federated-assertion\n")
            env["AZURE_FEDERATED_TOKEN_FILE"] = str(tmp_path / "federated")
        for k, v in env.items():
            monkeypatch.setenv(k, v)

    def cli(self, graph_url: str, *args: str) -> tuple[int, str, str]:
        from natoma_entra.cli.application import Application
        from natoma_entra.cli.main import run

        argv = ["--auth", self.mode, "--tenant", "contoso.onmicrosoft.com", "--graph-endpoint", graph_url + "/v1.0",
                "--app", "Natoma", *args]
        self.capsys.readouterr()
        try:
            run(argv, application=Application())
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        cap = self.capsys.readouterr()
        self.results.append((argv, code, cap.out, cap.err))
        if "-o" in args:
            json.loads(cap.out)  # the JSON document is searched too: it must be one
        return code, cap.out, cap.err

    def found(self, skip: tuple[Path, ...] = ()) -> list[str]:
        """Every leak in every output and every file under tmp_path (the trace file among them: it must exist)."""
        out = []
        for argv, code, stdout, stderr in self.results:
            for secret in (self.graph, self.scim):
                for f in leaks(stdout + stderr, secret):
                    out.append(f"{' '.join(argv[-3:])}: {f!r}")
        trace = self.tmp / "trace.jsonl"
        assert trace.is_file() and trace.stat().st_size > 0, "the runs wrote no --trace file to search"
        for path in self.tmp.rglob("*"):
            if path.is_file() and path not in skip:
                text = path.read_bytes().decode("utf-8", "replace")
                # the SCIM token: in no file but the served tenant's (Entra keeps it as the job's credentials)
                secrets = (self.graph,) if path.name == "served.json" else (self.graph, self.scim)
                for secret in secrets:
                    for f in leaks(text, secret):
                        out.append(f"{path.name}: {f!r}")
        return out


def served(tmp_path, mode):
    """`sandbox serve` accepting this mode's Graph token, and its Natoma stand-in this mode's SCIM token."""
    srv = make_server(tmp_path / "served.json", port=0, access_token=graph_token(mode))
    standin = standin_for(srv.tenant)
    standin.token = scim_token(mode)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    return srv


@pytest.mark.parametrize("mode", ["access-token", "client-secret"])
def test_main_commands_print_and_write_no_token(mode, tmp_path, monkeypatch, capsys):
    r = Runner(mode, tmp_path, monkeypatch, capsys)
    srv = served(tmp_path, mode)
    (tmp_path / "natoma-entra.toml").write_text(CONFIG.format(url=srv.url + "/scim/v2"))  # picked up from cwd
    try:
        assert r.cli(srv.url, "setup")[0] == 0, r.results[-1][3]
        assert r.cli(srv.url, "-o", "json", "status")[0] == 0, r.results[-1][3]
        if mode != "access-token":  # the other modes differ only in how the token is obtained: setup and status
            return _no_leak(r, tmp_path)
        r.cli(srv.url, "--verbose", "doctor")
        r.cli(srv.url, "-o", "json", "credentials", "--rotate")
        r.cli(srv.url, "-o", "json", "provision", "AdeleV@contoso.onmicrosoft.com", "--verify")
        r.cli(srv.url, "-o", "json", "logs")
        r.cli(srv.url, "--verbose", "-o", "json", "setup", "--rotate")
        # a saved plan that saves credentials (issue 24): the file is searched like every other one, and applied
        plan = tmp_path / "plan.json"
        assert r.cli(srv.url, "credentials", "--rotate", "--plan-out", str(plan))[0] == 0, r.results[-1][3]
        assert json.loads(plan.read_text())["needs_token"] is True
        assert r.cli(srv.url, "-o", "json", "apply", "--yes", str(plan))[0] == 0, r.results[-1][3]
        assert r.cli(srv.url, "--output", "markdown", "show", str(plan))[0] == 0
    finally:
        srv.shutdown()
        srv.server_close()
    _no_leak(r, tmp_path)


def _no_leak(r, tmp_path):
    # the served tenant keeps the SCIM token as Entra keeps it (the job's credentials); the Graph token: nowhere
    assert r.found(skip=(tmp_path / "served.json",)) == []
    assert leaks((tmp_path / "served.json").read_text(), r.graph) == []


@pytest.mark.parametrize("mode", MODES)
def test_a_server_echoing_the_token_in_errors_gets_it_masked(mode, echo, tmp_path, monkeypatch, capsys):
    r = Runner(mode, tmp_path, monkeypatch, capsys)
    # every mode: the raw echo and the cut one; the escaped spellings do not depend on the mode: access-token only
    forms = ECHO_FORMS if mode == "access-token" else ("raw", "html-cut-at-200")
    for form in forms:
        echo.form = form
        code, out, err = r.cli(echo.url, "status")
        assert code == 1 and "error" in (out + err).lower(), (form, out, err)
    code, out, err = r.cli(echo.url, "-o", "json", "--verbose", "setup", "--scim-url",
                           "https://acme.natoma.app/scim/v2", *GROUPS)
    assert code != 0
    assert r.found() == []


def test_the_scan_finds_a_token_no_one_registered(echo, tmp_path, monkeypatch, capsys):
    """The scan itself can fail: with the credential wrapper's registration switched off, the echoed token shows."""
    from natoma_entra import redact
    from natoma_entra.graph import auth

    monkeypatch.setattr(redact, "_SECRETS", set())  # forget what earlier tests registered
    monkeypatch.setattr(auth, "register", lambda secret: None)
    r = Runner("cli", tmp_path, monkeypatch, capsys)
    echo.form = "raw"
    r.cli(echo.url, "status")
    assert r.found() != []


def test_the_scan_finds_the_scim_token_in_a_trace_that_did_not_mask_it(tmp_path, monkeypatch, capsys):
    """The trace file is searched for the SCIM token: with its masking switched off (by key, and redact()), the
    token of the secrets PUT and the connection test shows, in the trace file."""
    from natoma_entra import trace

    monkeypatch.setattr(trace, "_masked", lambda doc: doc)
    monkeypatch.setattr(trace, "redact", lambda text: text)
    r = Runner("access-token", tmp_path, monkeypatch, capsys)
    srv = served(tmp_path, "access-token")
    (tmp_path / "natoma-entra.toml").write_text(CONFIG.format(url=srv.url + "/scim/v2"))
    try:
        assert r.cli(srv.url, "setup")[0] == 0, r.results[-1][3]
    finally:
        srv.shutdown()
        srv.server_close()
    found = r.found(skip=(tmp_path / "served.json",))
    assert found and all(f.startswith("trace.jsonl: ") for f in found), found


def test_the_scan_finds_the_scim_token_in_a_plan_file_that_held_it(tmp_path, monkeypatch, capsys):
    """Plan files are searched like every other file: a plan writer that let the SCIM token in is caught."""
    from natoma_entra import plan_file

    written = plan_file.write

    def leaky(path, saved):
        written(path, saved)
        Path(path).write_text(Path(path).read_text() + scim_token("access-token"))

    monkeypatch.setattr(plan_file, "write", leaky)
    r = Runner("access-token", tmp_path, monkeypatch, capsys)
    srv = served(tmp_path, "access-token")
    (tmp_path / "natoma-entra.toml").write_text(CONFIG.format(url=srv.url + "/scim/v2"))
    try:
        assert r.cli(srv.url, "credentials", "--plan-out", str(tmp_path / "plan.json"))[0] == 0, r.results[-1][3]
    finally:
        srv.shutdown()
        srv.server_close()
    found = r.found(skip=(tmp_path / "served.json",))
    assert found and all(f.startswith("plan.json: ") for f in found), found
