"""Issue 12 item 3: what the text output says (changes that say what they did, old -> new, one dry-run line, a
humanised interval, clean usage errors that name the flag)."""
import pytest

from natoma_entra.render.values import duration


def test_setup_says_what_the_credentials_change_does_and_the_start_change_old_and_new(sandbox):
    dry = sandbox.cli("setup", "--dry-run")
    assert dry.code == 0, dry.err
    assert "would save: the Tenant URL https://natoma.sandbox.test/scim/v2, the SCIM token and the scope" in dry.out
    assert "(none were saved before)" in dry.out and "no credentials saved" not in dry.out
    assert "a new job -> running (status Active, schedule Active)" in dry.out
    assert dry.out.count("dry run: nothing was written") == 1
    quiet = sandbox.cli("setup", "--dry-run", "--quiet")
    assert quiet.out.count("dry run: nothing was written") == 1
    assert sandbox.set_up().code == 0
    doc = sandbox.cli("status", "--output", "json").json()
    start = next(s for s in doc["steps"] if s["step"] == "start")
    assert start["info"]["interval"] == "PT40M"  # JSON keeps Graph's value
    text = sandbox.cli("status").out
    assert "interval: every 40 minutes" in text and "PT40M" not in text


def test_a_change_with_its_own_verb_says_it_in_both_tenses():
    from natoma_entra.render.report import change_line
    from natoma_entra.results import Change

    c = Change(action="create", target="the Tenant URL u, the SCIM token and the scope",
               detail={"why": "none were saved before", "verb": "save", "done": "saved"})
    assert change_line(c, False) == "+ saved: the Tenant URL u, the SCIM token and the scope (none were saved before)"
    assert change_line(c, True).startswith("+ would save: the Tenant URL u")


def test_start_shows_the_old_state_and_the_new(sandbox):
    assert sandbox.set_up().code == 0
    t = sandbox.tenant()
    job = next(iter(next(iter(t.state["jobs"].values())).values()))
    job["status"]["code"], job["schedule"]["state"] = "Paused", "Paused"
    sandbox.save(t)
    r = sandbox.cli("start")
    assert r.code == 0, r.err
    assert "status Paused, schedule Paused -> running (status Active, schedule Active)" in r.out


@pytest.mark.parametrize("value,text", [("PT40M", "40 minutes"), ("PT1H30M", "1 hour 30 minutes"),
                                        ("P1D", "1 day"), ("PT1M", "1 minute"), ("40 minutes", None), ("P", None)])
def test_iso_durations_are_humanised(value, text):
    assert duration(value) == text


@pytest.mark.parametrize("args,line", [
    (["--output", "yaml", "status"], "error: --output 'yaml' is not an output format (text, json or markdown)"),
    (["--cloud", "mars", "--app", "Natoma", "roles"], "error: --cloud: Input should be 'global'"),
    (["logs", "--limit", "0"], "error: Invalid value for '--limit': Input should be greater than or equal to 1"),
])
def test_usage_errors_are_one_line_naming_the_flag(sandbox, args, line):
    r = sandbox.cli(*args)
    assert r.code == 2 and r.out == ""
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(line), r.err
    assert "Value error" not in r.err and "examples/natoma-entra.toml" not in r.err and "Fix: " in r.err


def test_a_bad_env_value_names_the_variable(sandbox, monkeypatch):
    monkeypatch.setenv("NATOMA_ENTRA_CLOUD", "mars")
    r = sandbox.cli("roles")
    assert r.code == 2 and r.err.startswith("error: NATOMA_ENTRA_CLOUD: ") and "unset" in r.err


def test_a_string_where_a_list_is_wanted_is_a_list_of_one(sandbox, tmp_path):
    cfg = tmp_path / "one.toml"
    cfg.write_text('app = "Natoma"\n[groups]\nadmin = "Natoma Admins"\nmember = ["Natoma Members"]\n')
    r = sandbox.cli("--config", str(cfg), "assign", "--dry-run", "--output", "json")
    assert r.code == 0, r.err
    targets = [c["target"] for c in r.json()["steps"][0]["changes"]]
    assert targets == ["Natoma Admins -> Admin", "Natoma Members -> Member"]
