"""Pure parts of the credentials and start steps, and the SCIM token sources."""
from __future__ import annotations

import io

import pytest

from natoma_entra import redact
from natoma_entra.cli.token import read_token, token_given, token_source
from natoma_entra.config import Config
from natoma_entra.graph.errors import GraphError
from natoma_entra.errors import UsageError
from natoma_entra.steps import credentials as c
from natoma_entra.steps import start as s

URL = "https://acme.natoma.app/scim/v2"
GOOD = {"BaseAddress": URL, "SecretToken": "*", "SyncAll": "false"}


# -- credentials: the decision ------------------------------------------------------------------------------------

def test_nothing_saved():
    assert c.mismatches({}, URL, "assigned") == ["no credentials saved"]


def test_matching_stored_credentials_only_need_the_test():
    assert c.mismatches(GOOD, URL, "assigned") == []
    assert c.mismatches({**GOOD, "SyncAll": "False"}, URL, "assigned") == []  # case of the stored value


def test_masked_url_and_scope_are_unconfirmed_not_differences():
    """Which secrets Graph reads back masked is undocumented: a masked Tenant URL or scope is left to the saved
    credentials' connection test (a re-run that passes writes nothing), and said as unconfirmed."""
    masked = {**GOOD, "BaseAddress": "*", "SyncAll": "*"}
    assert c.mismatches(masked, URL, "assigned") == []
    notes = c.unconfirmed(masked)
    assert len(notes) == 2 and "Tenant URL" in notes[0] and "scope" in notes[1]
    assert c.unconfirmed(GOOD) == []


@pytest.mark.parametrize("stored, scope, expected", [
    ({**GOOD, "BaseAddress": "https://old.natoma.app/scim/v2"}, "assigned", "the saved Tenant URL is https://old"),
    ({**GOOD, "SecretToken": ""}, "assigned", "no secret token saved"),
    ({k: v for k, v in GOOD.items() if k != "SecretToken"}, "assigned", "no secret token saved"),
    ({**GOOD, "SyncAll": "true"}, "assigned", "sync all users and groups -> sync only assigned"),
    (GOOD, "all", "-> sync all users and groups"),
    ({k: v for k, v in GOOD.items() if k != "SyncAll"}, "assigned", "no scope saved"),
])
def test_mismatches(stored, scope, expected):
    reasons = c.mismatches(stored, URL, scope)
    assert any(expected in r for r in reasons), reasons


def test_rotate_always_writes():
    assert any("--rotate" in r for r in c.mismatches(GOOD, URL, "assigned", rotate=True))


def test_secrets_body_keeps_readable_keys_and_drops_masked_ones():
    stored = {**GOOD, "BaseAddress": "https://old", "SyncNotificationSettings": '{"Enabled":false}',
              "SkipOutOfScopeDeletions": "", "Password": "*"}
    body, dropped = c.secrets_body(stored, URL, "tok-123", "assigned")
    items = {i["key"]: i["value"] for i in body["value"]}
    assert items == {"BaseAddress": URL, "SecretToken": "tok-123", "SyncAll": "false",
                     "SyncNotificationSettings": '{"Enabled":false}', "SkipOutOfScopeDeletions": ""}
    assert dropped == ["Password"]
    assert [i["key"] for i in body["value"]][:3] == ["BaseAddress", "SecretToken", "SyncAll"]  # PascalCase


def test_sync_all_value():
    assert c.sync_all_value("assigned") == "false"
    assert c.sync_all_value("all") == "true"


def test_stored_values():
    assert c.stored_values([{"key": "BaseAddress", "value": URL}, {"key": "SecretToken", "value": "*"},
                            {"key": "SyncAll", "value": None}, "junk"]) == {**GOOD, "SyncAll": ""}
    assert c.stored_values(None) == {}


def test_validate_bodies():
    assert c.validate_body(saved=True) == {"useSavedCredentials": True}
    assert c.validate_body(saved=True, template_id="scim") == {"useSavedCredentials": True, "templateId": "scim"}
    assert c.validate_body(URL, "t") == {"useSavedCredentials": False, "credentials": [
        {"key": "BaseAddress", "value": URL}, {"key": "SecretToken", "value": "t"}]}


def _err(status, code="", message="m"):
    return GraphError(status=status, code=code, message=message, method="POST", path="/x")


def test_test_failure_or_graph_problem():
    assert c.is_test_failure(_err(400, "SystemForCrossDomainIdentityManagementCredentialValidationUnavailable"))
    assert c.is_test_failure(_err(400, "BadRequest", "You appear to have entered invalid credentials."))
    assert c.is_test_failure(_err(400, "UnknownError", '{"Message":"The SCIM endpoint answered 401 Unauthorized"}'))
    # a 400 that says nothing of the credentials is not a verdict on the URL or the token: test again at job level
    assert not c.is_test_failure(_err(400, "BadRequest", "Templates are not supported for this operation."))
    assert c.is_inconclusive(_err(400, "BadRequest", "Templates are not supported for this operation."))
    assert c.is_test_failure(_err(500, "CredentialValidationFailed"))
    assert not c.is_test_failure(_err(403, "Authorization_RequestDenied"))
    assert not c.is_test_failure(_err(401, "InvalidAuthenticationToken"))
    assert not c.is_test_failure(_err(503, "ServiceUnavailable"))


# -- start ------------------------------------------------------------------------------------------------------------

def _job(code, schedule, **status):
    return {"id": "scim.1.2", "status": {"code": code, **status}, "schedule": {"state": schedule, "interval": "PT40M"}}


@pytest.mark.parametrize("code, schedule, action", [
    ("NotConfigured", "Disabled", "start"), ("Paused", "Paused", "start"), ("Quarantine", "Active", "start"),
    ("NotRun", "Disabled", "start"), ("Active", "Disabled", "start"),
    ("Active", "Active", "none"), ("NotRun", "Active", "none"),
])
def test_start_plan(code, schedule, action):
    assert s.start_decision(_job(code, schedule))[0] == action


def test_restart_plan_even_when_running():
    action, change = s.start_decision(_job("Active", "Active"), restart=True)
    assert action == "restart" and change.detail["resetScope"] == "Watermark, Escrows, QuarantineState"


def test_reset_scope():
    assert s.restart_body() == {"criteria": {"resetScope": "Watermark, Escrows, QuarantineState"}}
    assert s.normalize_reset_scope("watermark,full, Watermark") == "Watermark, Full"
    assert s.normalize_reset_scope("  ") == s.DEFAULT_RESET_SCOPE
    for bad in ("None", "ConnectorDataStore", "Everything"):
        with pytest.raises(UsageError):
            s.normalize_reset_scope(bad)


def test_job_info_with_quarantine_and_last_cycle():
    job = _job("Quarantine", "Active", quarantine={"reason": "EncounteredQuarantineException",
                                                   "error": {"code": "SystemForCrossDomainIdentityManagementCredentialValidationUnavailable",
                                                             "message": "401 from the SCIM endpoint"}},
               lastExecution={"state": "Failed", "timeBegan": "2024-01-01T00:00:00Z", "timeEnded": "2024-01-01T00:01:00Z",
                              "error": {"code": "X", "message": "boom"}})
    info = s.job_info(job)
    assert info["status"] == "Quarantine" and info["schedule"] == "Active"
    assert info["last_cycle"] == "Failed" and info["last_cycle_time"] == "2024-01-01T00:01:00Z"
    assert info["last_cycle_error"] == "boom"
    assert info["quarantine"] == "EncounteredQuarantineException: 401 from the SCIM endpoint"
    assert "quarantine:" in s.start_decision(job)[1].detail["why"]


# -- token sources ----------------------------------------------------------------------------------------------------

class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_token_from_env_is_stripped_and_registered():
    assert read_token(env={"NATOMA_SCIM_TOKEN": "  env-tok-1\n"}, stdin=io.StringIO()) == "env-tok-1"
    assert "env-tok-1" in redact._SECRETS


def test_token_env_name_from_config():
    assert read_token(env_name="MY_TOK", env={"MY_TOK": "mine-1", "NATOMA_SCIM_TOKEN": "other"}, stdin=io.StringIO()) == "mine-1"


def test_token_from_file(tmp_path):
    f = tmp_path / "tok"
    f.write_text("file-tok-1\n")
    assert read_token(token_file=f, env={"NATOMA_SCIM_TOKEN": "env"}, stdin=io.StringIO()) == "file-tok-1"
    with pytest.raises(UsageError, match="cannot read"):
        read_token(token_file=tmp_path / "missing", env={}, stdin=io.StringIO())


def test_token_from_stdin():
    assert read_token(use_stdin=True, env={"NATOMA_SCIM_TOKEN": "env"}, stdin=io.StringIO("stdin-tok-1\n")) == "stdin-tok-1"
    with pytest.raises(UsageError, match="empty"):
        read_token(use_stdin=True, env={}, stdin=io.StringIO("\n"))


def test_prompt_only_at_a_terminal():
    asked = []
    assert read_token(env={}, stdin=_Tty(), prompt=lambda: asked.append(1) or "typed-tok-1") == "typed-tok-1"
    assert asked == [1]
    with pytest.raises(UsageError) as e:
        read_token(env={}, stdin=io.StringIO(), prompt=lambda: asked.append(2) or "x")
    assert asked == [1]
    text = str(e.value)
    assert "NATOMA_SCIM_TOKEN" in text and "--scim-token-file" in text and "--scim-token-stdin" in text


def test_sandbox_fallback_comes_after_the_given_sources():
    assert read_token(env={}, stdin=io.StringIO(), fallback="sandbox-tok") == "sandbox-tok"
    assert read_token(env={"NATOMA_SCIM_TOKEN": "real-tok"}, stdin=io.StringIO(), fallback="sandbox-tok") == "real-tok"


def test_token_with_inner_whitespace_is_refused():
    with pytest.raises(UsageError, match="whitespace"):
        read_token(env={"NATOMA_SCIM_TOKEN": "two words"}, stdin=io.StringIO())


def test_token_source_is_lazy_and_read_once(monkeypatch):
    import sys

    reads = []

    class Stdin(io.StringIO):
        def read(self, *a):
            reads.append(1)
            return "lazy-tok-1"

    monkeypatch.setattr(sys, "stdin", Stdin())
    get = token_source(Config(), use_stdin=True)
    assert reads == []
    assert get() == "lazy-tok-1" and get() == "lazy-tok-1"
    assert reads == [1]


def test_token_given():
    assert not token_given(Config(), env={})
    assert token_given(Config(), env={"NATOMA_SCIM_TOKEN": "x"})
    assert token_given(Config(), use_stdin=True, env={})


def test_cycle_warnings():
    assert s.cycle_warnings({"last_cycle": "Succeeded"}) == []
    (w,) = s.cycle_warnings({"last_cycle": "EntryLevelErrors"})
    assert "EntryLevelErrors" in w and "logs" in w
    assert len(s.cycle_warnings({"last_cycle": "Failed", "last_cycle_error": "x", "quarantine": "q"})) == 2
