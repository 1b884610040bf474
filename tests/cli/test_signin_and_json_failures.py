"""Sign-in failures in one line with the fix; a JSON document even when a run stops early; the token prompt."""
import asyncio
import json

import httpx
import pytest

from natoma_entra.graph.client import GraphClient
from natoma_entra.errors import NatomaEntraError


class FailingCredential:
    def __init__(self, exc):
        self.exc = exc

    def get_token(self, *scopes, **kwargs):
        raise self.exc


@pytest.mark.parametrize("auth,fix", [("cli", "az login"), ("default", "--auth"), ("managed-identity", "managed identity"),
                                      ("client-secret", "AZURE_CLIENT_SECRET")])
def test_sign_in_failure_is_one_line_with_the_fix_for_the_mode(auth, fix):
    from azure.identity import CredentialUnavailableError

    client = GraphClient(FailingCredential(CredentialUnavailableError("Azure CLI not found on path\nmore detail")),
                         "https://graph.microsoft.com/v1.0", auth=auth,
                         transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"value": []})))
    with pytest.raises(NatomaEntraError) as e:
        asyncio.run(client.list("/servicePrincipals"))
    assert str(e.value).startswith(f"sign-in failed with --auth {auth}: Azure CLI not found on path")
    assert "more detail" not in str(e.value) and fix in e.value.fix


def test_cli_sign_in_failure_exits_1_without_traceback(capsys, monkeypatch):
    from natoma_entra.cli.main import run

    monkeypatch.setenv("PATH", "/nonexistent")  # no `az` to find
    with pytest.raises(SystemExit) as e:
        run(["--auth", "cli", "--app", "Natoma", "--graph-endpoint", "http://127.0.0.1:9/v1.0", "roles"])
    err = capsys.readouterr().err
    assert e.value.code == 1
    assert "sign-in failed with --auth cli" in err and "az login" in err and "unexpected" not in err


def test_json_output_has_a_document_when_the_run_stops_before_its_report(sandbox):
    r = sandbox.cli("--output", "json", "assign", "--group", "admin=No Such Group")
    assert r.code == 2
    doc = json.loads(r.out)
    assert doc["ok"] is False and doc["command"] == "assign" and doc["exit_code"] == 2
    assert "No Such Group" in doc["error"] and doc["fix"]


def test_json_output_after_a_global_option_value_names_the_command(sandbox):
    r = sandbox.cli("assign", "--output", "json", "--app", "Nope")
    doc = json.loads(r.out)
    assert doc["command"] == "assign" and doc["ok"] is False


def test_hidden_prompt_pauses_the_spinner_and_reads_the_token(monkeypatch):
    import typer

    from natoma_entra.cli import token
    from natoma_entra.cli.application import Application

    events = []

    class FakeSpinner:
        def stop(self):
            events.append("stop")

        def start(self):
            events.append("start")

    def fake_prompt(text, **kw):
        events.append(("prompt", kw.get("hide_input"), kw.get("err")))
        return "fake-typed-token"

    monkeypatch.setattr(typer, "prompt", fake_prompt)
    app = Application()
    app._spinner = FakeSpinner()  # the spinner the application shows at a terminal
    assert token._prompt(app.spinner_paused) == "fake-typed-token"
    assert events == ["stop", ("prompt", True, True), "start"]


def test_the_end_of_the_input_at_the_token_prompt_is_no_token(monkeypatch):
    """Ctrl-D at the hidden prompt (click says Abort, as for Ctrl-C): no token was typed, which the run refuses in
    one line (exit 2), not as an interrupt. Ctrl-C there: tests/real/test_ctrl_c_at_a_terminal.py."""
    import typer

    from natoma_entra.cli import token
    from natoma_entra.errors import UsageError

    def end_of_input(text, **kw):
        raise typer.Abort()

    class Terminal:
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(typer, "prompt", end_of_input)
    with pytest.raises(UsageError, match="the SCIM token from the prompt is empty"):
        token.read_token(env={}, stdin=Terminal(), prompt=token._prompt)
