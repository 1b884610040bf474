"""`natoma-entra config init`: a commented natoma-entra.toml from flags or answers, that the config loader loads and
status uses against the sandbox; an existing file is never overwritten without --force."""
from pathlib import Path

from natoma_entra.config import load

GROUPS = ("--group", "admin=Natoma Admins", "--group", "AppAdmin=Natoma App Admins", "--group", "member=Natoma Members")


def test_init_from_flags_then_status_with_that_file(sandbox, tmp_path):
    assert sandbox.set_up().code == 0
    path = tmp_path / "natoma-entra.toml"
    r = sandbox.cli("--app", "Natoma", "config", "init", *GROUPS, "--scim-url", "https://natoma.sandbox.test/scim/v2")
    assert r.code == 0, r.err
    text = path.read_text()
    assert "# tenant = " in text and "# Secrets never go here" in text  # not given: left commented, with a comment
    config = load(path, {}, env={})
    assert config.app == "Natoma" and config.groups == {"admin": ["Natoma Admins"], "AppAdmin": ["Natoma App Admins"],
                                                        "member": ["Natoma Members"]}
    assert config.scim.url == "https://natoma.sandbox.test/scim/v2" and config.scim.scope == "assigned"
    st = sandbox.cli("--config", str(path), "status", "--exit-code", "--output", "json")
    assert st.code == 0, st.out + st.err
    assert {s["info"]["state"] for s in st.json()["steps"]} == {"in place"}


def test_never_overwrites_without_force(sandbox, tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('app = "Mine"\n')
    r = sandbox.cli("--config", str(path), "--app", "Natoma", "config", "init")
    assert r.code == 2 and "--force" in r.err and path.read_text() == 'app = "Mine"\n'
    dry = sandbox.cli("--config", str(path), "--app", "Natoma", "config", "init", "--dry-run")
    assert dry.code == 0 and 'app = "Natoma"' in dry.out and path.read_text() == 'app = "Mine"\n'
    r = sandbox.cli("--config", str(path), "--app", "Natoma", "config", "init", "--force")
    assert r.code == 0 and load(path, {}, env={}).app == "Natoma"


def test_bad_values_write_nothing(sandbox, tmp_path):
    for args in (("--group", "boss=Natoma Admins"), ("--scim-url", "ftp://natoma.example/scim"), ("--scope", "some")):
        r = sandbox.cli("--app", "Natoma", "config", "init", *args)
        assert r.code == 2 and len(r.err.strip().splitlines()) == 1, r.err
        assert not (tmp_path / "natoma-entra.toml").exists()


def test_at_a_terminal_it_asks_on_stderr(sandbox, tmp_path, monkeypatch):
    from natoma_entra.cli import config_cmd

    monkeypatch.setattr(config_cmd, "is_terminal", lambda: True)
    answers = "\n".join(["Natoma", "contoso.onmicrosoft.com", "Natoma Admins", "", "Natoma Members, Natoma Contractors",
                         "https://acme.natoma.app/scim/v2"]) + "\n"
    r = sandbox.cli("config", "init", stdin=answers)
    assert r.code == 0, r.err
    assert "Groups for the Admin role" in r.err and "Groups for the Admin role" not in r.out
    config = load(Path(tmp_path / "natoma-entra.toml"), {}, env={})
    assert config.tenant == "contoso.onmicrosoft.com"
    assert config.groups == {"admin": ["Natoma Admins"], "member": ["Natoma Members", "Natoma Contractors"]}
    assert config.scim.url == "https://acme.natoma.app/scim/v2"


def test_at_a_terminal_a_bad_answer_is_asked_again_with_the_reason(sandbox, tmp_path, monkeypatch):
    """A typo in the wizard costs one line: the question comes again with why, and no flag the person never typed
    is named (it aborted with "--scim-url: ..." before)."""
    from natoma_entra.cli import config_cmd

    monkeypatch.setattr(config_cmd, "is_terminal", lambda: True)
    answers = "\n".join(["N" * 300, "Natoma", "", "Natoma Admins", "", "Natoma Members",
                         "ftp://acme.natoma.app/scim/v2", "https://acme.natoma.app/scim/v2"]) + "\n"
    r = sandbox.cli("config", "init", stdin=answers)
    assert r.code == 0, r.err
    assert "256" in r.err and "try again" in r.err  # the app name's limit, said at the question
    assert r.err.count("Natoma's SCIM tenant URL") == 2 and "--scim-url" not in r.err and "--app" not in r.err
    config = load(Path(tmp_path / "natoma-entra.toml"), {}, env={})
    assert config.app == "Natoma" and config.scim.url == "https://acme.natoma.app/scim/v2"
    assert config.groups == {"admin": ["Natoma Admins"], "member": ["Natoma Members"]}


def test_at_a_terminal_answers_that_never_become_valid_end_with_one_line_naming_the_question(sandbox, tmp_path,
                                                                                             monkeypatch):
    from natoma_entra.cli import config_cmd

    monkeypatch.setattr(config_cmd, "is_terminal", lambda: True)
    r = sandbox.cli("config", "init", stdin="\n".join(["N" * 300] * 6) + "\n")
    assert r.code == 2
    [line] = [x for x in r.err.splitlines() if x.startswith("error:")]
    assert "Natoma enterprise app" in line and "--app" not in line.split(" Fix: ")[0]
    assert not (tmp_path / "natoma-entra.toml").exists()
