"""`natoma-entra credentials` against the sandbox: sources, test-first writes, verified re-runs, rejected tokens."""
from __future__ import annotations

from natoma_entra.sandbox.state import NATOMA_TOKEN, NATOMA_URL

VALIDATE = "validateCredentials"


def secrets(sandbox) -> dict:
    t = sandbox.tenant()
    sp = t.find_sp()
    return {s["key"]: s["value"] for s in t.state["secrets"].get(sp["id"], [])}


def jobs(sandbox) -> dict:
    t = sandbox.tenant()
    return t.state["jobs"].get(t.find_sp()["id"], {})


def real_writes(result) -> list:
    """Writes (the fixture leaves out the connection test: a POST that changes nothing)."""
    assert not any(VALIDATE in w[1] for w in result.writes)
    return result.writes


def connection_tests(result) -> list:
    return [r for r in result.requests if r[1].split("?")[0].endswith(VALIDATE)]


def put_secrets(result) -> list:
    return [w for w in result.writes if w[0] == "PUT" and w[1].endswith("/synchronization/secrets")]


def test_saves_tests_first_and_creates_the_job(sandbox, monkeypatch):
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    r = sandbox.cli("credentials")
    assert r.code == 0, r.err
    assert "credentials: changed" in r.out
    methods = [(m, p.split("?")[0].rsplit("/", 1)[-1]) for m, p, _ in r.requests if m != "GET"]
    # the job is created, the new values are tested, and only then the secrets are PUT
    assert methods.index(("PUT", "secrets")) > max(i for i, m in enumerate(methods) if m[1] == VALIDATE)
    assert secrets(sandbox) == {"BaseAddress": NATOMA_URL, "SecretToken": NATOMA_TOKEN, "SyncAll": "false"}
    assert len(jobs(sandbox)) == 1


def test_rerun_is_verified_with_zero_writes(sandbox, monkeypatch):
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    assert sandbox.cli("credentials").code == 0
    monkeypatch.delenv("NATOMA_SCIM_TOKEN")
    r = sandbox.cli("credentials", "--output", "json")
    assert r.code == 0, r.err
    step = r.json()["steps"][0]
    assert step["status"] == "unchanged" and step["info"]["state"] == "verified"
    assert step["info"]["url"] == NATOMA_URL
    assert real_writes(r) == []
    assert len(connection_tests(r)) == 1  # only the test of the saved credentials


def test_dry_run_writes_nothing(sandbox, monkeypatch):
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    r = sandbox.cli("credentials", "--dry-run", "--output", "json")
    assert r.code == 0, r.err
    step = r.json()["steps"][0]
    assert step["status"] == "planned"
    assert [c["action"] for c in step["changes"]] == ["create", "create"]  # the job, the credentials
    assert step["info"]["connection_test"] == "passed"
    assert real_writes(r) == []
    assert secrets(sandbox) == {} and jobs(sandbox) == {}


def test_rejected_token_fails_and_keeps_what_is_saved(sandbox, monkeypatch):
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    assert sandbox.cli("credentials").code == 0
    before = secrets(sandbox)
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", "wrong-token-123")
    r = sandbox.cli("credentials", "--rotate", "--yes")
    assert r.code == 1
    assert "connection test failed" in r.out and "invalid credentials" in r.out
    assert "the saved credentials were left as they were" in r.out
    assert put_secrets(r) == []
    assert secrets(sandbox) == before
    assert "wrong-token-123" not in r.out + r.err


def test_rejected_token_on_a_fresh_app_creates_nothing(sandbox, monkeypatch):
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", "wrong-token-123")
    r = sandbox.cli("credentials", "--output", "json")
    assert r.code == 1
    step = r.json()["steps"][0]
    assert step["status"] == "failed" and step["info"]["state"] == "rejected"
    assert real_writes(r) == []  # tested at collection level (templateId), so no job was created
    assert jobs(sandbox) == {} and secrets(sandbox) == {}


def test_dry_run_reports_a_rejected_token(sandbox, monkeypatch):
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", "wrong-token-123")
    r = sandbox.cli("credentials", "--dry-run")
    assert r.code == 1 and real_writes(r) == []


def test_revoked_saved_token_is_replaced(sandbox, monkeypatch):
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    assert sandbox.cli("credentials").code == 0
    t = sandbox.tenant()
    for s in t.state["secrets"][t.find_sp()["id"]]:
        if s["key"] == "SecretToken":
            s["value"] = "revoked-token"
    sandbox.save(t)
    r = sandbox.cli("credentials")
    assert r.code == 0, r.err
    assert "saved credentials fail the connection test" in r.out
    assert secrets(sandbox)["SecretToken"] == NATOMA_TOKEN


def test_rotate_writes_even_when_verified(sandbox, monkeypatch):
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    assert sandbox.cli("credentials").code == 0
    r = sandbox.cli("credentials", "--rotate", "--yes")
    assert r.code == 0 and len(put_secrets(r)) == 1


def test_given_token_unused_when_verified_is_said(sandbox, monkeypatch):
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    assert sandbox.cli("credentials").code == 0
    r = sandbox.cli("credentials")
    assert r.code == 0 and "--rotate" in r.out and real_writes(r) == []


def test_scope_all_and_back(sandbox, monkeypatch):
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    assert sandbox.cli("credentials", "--scope", "all").code == 0
    assert secrets(sandbox)["SyncAll"] == "true"
    r = sandbox.cli("credentials")
    assert r.code == 0 and "sync all users and groups -> sync only assigned" in r.out
    assert "start --restart" in r.out
    assert secrets(sandbox)["SyncAll"] == "false"


def test_changed_url_is_tested_and_saved(sandbox, monkeypatch):
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    assert sandbox.cli("credentials").code == 0
    rehearsal = "http://127.0.0.1:9/scim/v2"  # the stand-in also answers /scim/v2 on loopback (sandbox serve)
    r = sandbox.cli("credentials", "--scim-url", rehearsal)
    assert r.code == 0, r.out + r.err
    assert [w[0] for w in r.writes] == ["PUT"]
    assert secrets(sandbox)["BaseAddress"] == rehearsal


def test_sandbox_never_sends_to_a_real_natoma(sandbox, monkeypatch, tmp_path):
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    assert sandbox.cli("credentials").code == 0
    r = sandbox.cli("credentials", "--scim-url", "https://other.natoma.example/scim/v2")
    assert r.code == 2 and "sandbox" in r.err and r.requests == []
    assert secrets(sandbox)["BaseAddress"] == NATOMA_URL
    # a real URL in the config file is refused the same way (the config is loaded as for a real tenant, never
    # rewritten): nothing is sent, and the fix names the flag that wins over the file
    (tmp_path / "natoma-entra.toml").write_text('[scim]\nurl = "https://acme.natoma.example/scim/v2"\n')
    r = sandbox.cli("credentials", "--output", "json")
    assert r.code == 2 and "not to https://acme.natoma.example/scim/v2" in r.err and "--scim-url" in r.err
    assert r.requests == [] and secrets(sandbox)["BaseAddress"] == NATOMA_URL
    r = sandbox.cli("credentials", "--scim-url", NATOMA_URL)
    assert r.code == 0, r.err


def test_other_settings_are_kept_and_masked_ones_named(sandbox, monkeypatch):
    t = sandbox.tenant()
    t.state["secrets"][t.find_sp()["id"]] = [
        {"key": "BaseAddress", "value": "https://old.natoma.example/scim/v2"},
        {"key": "SecretToken", "value": "old"},
        {"key": "SyncNotificationSettings", "value": '{"Enabled":false,"DeleteThresholdEnabled":false}'},
        {"key": "Password", "value": "hunter22"},
    ]
    sandbox.save(t)
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    r = sandbox.cli("credentials")
    assert r.code == 0, r.err
    assert "Password" in r.out and "dropped" in r.out
    put = [w for w in r.writes if w[0] == "PUT"]
    assert len(put) == 1
    got = secrets(sandbox)
    assert got["SyncNotificationSettings"] == '{"Enabled":false,"DeleteThresholdEnabled":false}'
    assert got["BaseAddress"] == NATOMA_URL and got["SyncAll"] == "false"


def test_bad_urls_are_usage_errors(sandbox, monkeypatch):
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    for url in ("http://natoma.example/scim/v2", "natoma.example/scim", "ftp://x/scim", "http://127.0.0.1:9/v2"):
        r = sandbox.cli("credentials", "--scim-url", url)
        assert r.code == 2, (url, r.err)
        assert r.requests == []


def test_loopback_http_url_is_accepted(sandbox, monkeypatch):
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    r = sandbox.cli("credentials", "--scim-url", "http://127.0.0.1:9/scim/v2", "--dry-run", "--output", "json")
    assert r.code == 0, r.err
    step = r.json()["steps"][0]
    assert step["status"] == "planned" and step["info"]["url"] == "http://127.0.0.1:9/scim/v2"
    assert r.writes == []


def test_token_is_not_a_flag_value(sandbox):
    r = sandbox.cli("credentials", "--scim-token", "abc")
    assert r.code == 2


def test_two_token_sources_at_once_are_refused(sandbox, tmp_path):
    f = tmp_path / "tok"
    f.write_text(NATOMA_TOKEN)
    r = sandbox.cli("credentials", "--scim-token-file", str(f), "--scim-token-stdin", stdin=NATOMA_TOKEN)
    assert r.code == 2 and r.requests == []


def test_token_file_and_stdin(sandbox, tmp_path):
    wrong = tmp_path / "wrong"
    wrong.write_text("fake-wrong-token\n")
    assert sandbox.cli("credentials", "--scim-token-file", str(wrong)).code == 1  # the file is really what is used
    assert sandbox.cli("credentials", "--scim-token-stdin", stdin="fake-wrong-token\n").code == 1  # and stdin
    f = tmp_path / "tok"
    f.write_text(NATOMA_TOKEN + "\n")
    r = sandbox.cli("credentials", "--scim-token-file", str(f))
    assert r.code == 0, r.err
    r = sandbox.cli("credentials", "--rotate", "--yes", "--scim-token-stdin", stdin=NATOMA_TOKEN + "\n")
    assert r.code == 0 and len(put_secrets(r)) == 1
    assert secrets(sandbox)["SecretToken"] == NATOMA_TOKEN


def test_token_env_named_by_the_config(sandbox, tmp_path, monkeypatch):
    cfg = tmp_path / "natoma-entra.toml"
    cfg.write_text('[scim]\ntoken_env = "MY_NATOMA_TOKEN"\n')
    monkeypatch.setenv("MY_NATOMA_TOKEN", "wrong-from-my-var")
    r = sandbox.cli("--config", str(cfg), "credentials")
    assert r.code == 1  # the named variable was used (and its wrong token rejected), not the sandbox's own
    monkeypatch.setenv("MY_NATOMA_TOKEN", NATOMA_TOKEN)
    assert sandbox.cli("--config", str(cfg), "credentials").code == 0


def test_scope_all_warns_that_single_role_mapping_does_not_support_it(sandbox, monkeypatch):
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    r = sandbox.cli("credentials", "--scope", "all", "--output", "json")
    assert r.code == 0
    assert any("not compatible with the SingleAppRoleAssignment" in w for w in r.json()["warnings"])
