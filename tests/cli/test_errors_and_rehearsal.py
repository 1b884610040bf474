"""One-line errors with the right exit codes, and a real-HTTP rehearsal against `sandbox serve`."""
import json

import pytest

from natoma_entra.sandbox import faults
from natoma_entra.sandbox.state import ACCESS_TOKEN, NATOMA_TOKEN


def run_cli(capsys, *args):
    from natoma_entra.cli.main import run

    capsys.readouterr()
    try:
        run(list(args))
        code = 0
    except SystemExit as e:
        code = e.code or 0
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_network_error_is_one_line_naming_the_host_exit_1(sandbox, monkeypatch):
    sandbox.options.faults[:] = [faults.drop(method="GET", path=r"/servicePrincipals", count=None)]
    r = sandbox.cli("roles")
    assert r.code == 1
    lines = [line for line in r.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "graph.microsoft.com" in lines[0] and "Traceback" not in r.err


def test_unexpected_exception_is_one_line_and_verbose_shows_the_traceback(sandbox, monkeypatch):
    from natoma_entra.steps import roles

    def boom(current, app_id, prune=False):
        raise RuntimeError("surprise")

    monkeypatch.setattr(roles, "plan", boom)
    r = sandbox.cli("roles")
    assert r.code == 1
    assert "unexpected RuntimeError: surprise" in r.err and "run with --verbose" in r.err
    assert "Traceback" not in r.err
    r = sandbox.cli("--verbose", "roles")
    assert r.code == 1 and "Traceback" in r.err


@pytest.mark.parametrize("args,needle", [
    (["--graph-endpoint", "http://graph.example.com/v1.0", "--app", "Natoma", "--auth", "access-token", "roles"], "loopback"),
    (["--cloud", "mars", "--app", "Natoma", "roles"], "cloud"),
    (["--app", "Natoma", "--auth", "access-token", "roles"], "NATOMA_ENTRA_ACCESS_TOKEN"),
    (["--output", "yaml", "roles"], "yaml"),
    (["roles"], "no app given"),
])
def test_bad_usage_exits_2_with_one_clear_message(capsys, args, needle):
    code, out, err = run_cli(capsys, *args)
    assert code == 2
    assert needle in err
    assert "Traceback" not in err


def test_access_token_is_never_printed_even_on_failure(capsys, monkeypatch):
    monkeypatch.setenv("NATOMA_ENTRA_ACCESS_TOKEN", "fake-access-token-abcdef")
    # nothing listens on this port: a network error, reported with the host and without the token
    code, out, err = run_cli(capsys, "--verbose", "--auth", "access-token", "--graph-endpoint",
                             "http://127.0.0.1:9/v1.0", "--app", "Natoma", "roles")
    assert code == 1
    assert "127.0.0.1" in err
    assert "fake-access-token-abcdef" not in out + err




def test_rehearsal_against_sandbox_serve_over_real_http(server, capsys, monkeypatch):
    """The real path: access-token sign-in, --graph-endpoint, the SDK adapter over HTTP, SCIM on loopback."""
    monkeypatch.setenv("NATOMA_ENTRA_ACCESS_TOKEN", ACCESS_TOKEN)
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    args = ["--auth", "access-token", "--graph-endpoint", server.url + "/v1.0", "--app", "Natoma", "--output", "json",
            "setup", "--scim-url", server.url + "/scim/v2",
            "--group", "admin=Natoma Admins", "--group", "AppAdmin=Natoma App Admins", "--group", "member=Natoma Members"]
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["ok"] and [s["status"] for s in doc["steps"]] == ["changed"] * 5
    from natoma_entra.sandbox.natoma import standin_for

    users = {u["userName"].split("@")[0]: [r["value"] for r in u.get("roles") or []]
             for u in standin_for(server.tenant).users()}
    assert users["AdeleV"] == ["admin"] and users["MeganB"] == ["member"]
    code, out, err = run_cli(capsys, *args)
    assert code == 0 and [s["status"] for s in json.loads(out)["steps"]] == ["unchanged"] * 5
    assert NATOMA_TOKEN not in out + err and ACCESS_TOKEN not in out + err


def test_rehearsal_with_a_wrong_access_token_says_how_to_sign_in(server, capsys, monkeypatch):
    monkeypatch.setenv("NATOMA_ENTRA_ACCESS_TOKEN", "fake-expired-token")
    code, out, err = run_cli(capsys, "--auth", "access-token", "--graph-endpoint", server.url + "/v1.0",
                             "--app", "Natoma", "roles")
    assert code == 1
    assert "401" in out + err and "sign in" in out + err
    assert "fake-expired-token" not in out + err
