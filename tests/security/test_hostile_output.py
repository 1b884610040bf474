"""Hostile names from the tenant and from Natoma reach no terminal, CI log or file as control or markup (issue 22,
item 3): every command's text and JSON output, and export's file, against a sandbox whose users, groups, app role,
assignments, provisioning logs and Natoma userNames carry escape sequences, bidi overrides, rich markup, NUL, line
breaks followed by GitHub workflow commands (`::error::`) and the runner's legacy `##[...]` form.

What is checked, on the bytes the command wrote:
- no character of the Unicode categories Cc, Cf, Zl, Zp or Cs but the line breaks between output lines (unicodedata
  is the oracle, not the escaping code);
- no line that starts with `::` once leading whitespace is trimmed (as the Actions runner trims it), and no `##[`
  anywhere (the runner reads that form anywhere in a line: actions/runner src/Runner.Common/ActionCommand.cs);
- rich markup shown as written (`[bold red]x[/]` is in the text, so it was not read as a style);
- the hostile data did reach the output (escaped), so a case cannot pass by printing nothing;
- JSON parses, is pure ASCII, and carries the names unchanged (escaped by JSON, not altered).
"""
from __future__ import annotations

import json
import re
import tomllib
import unicodedata
from pathlib import Path

import pytest

from natoma_entra.sandbox.state import NATOMA_TOKEN, assignment_id, det_id, group_id
from natoma_entra.steps.roles import role_id

# Each piece of what a hostile admin (or a compromised Natoma) can put in a name.
PIECES = {
    "CSI": "\x1b[2J\x1b[31m",  # clear the screen, red
    "OSC title": "\x1b]0;pwned\x07",  # retitle the terminal window
    "OSC 8 hyperlink": "\x1b]8;;https://evil.test/\x1b\\click\x1b]8;;\x1b\\",
    "C1 CSI/OSC": "\x9b31m\x9d0;t\x9c",
    "bidi override": "\u202eevil\u202c\u2066x\u2069\u200e\u061c",
    "invisible": "\u200b\ufeff\u2060\u3164",
    "rich markup": "[bold red]x[/][link=https://evil.test/]y[/link]:warning:",
    "workflow command": "\n::error::pwned\r\n  ::add-mask::z\u2028::warning::w\x85::notice::n",
    "legacy command": "##[error]legacy",
    "NUL and DEL": "a\x00b\x7f",
    "markdown": " a|b <img src=x onerror=alert(1)> **bold** @org/team",  # a table cell, HTML, emphasis, a mention
}
NAME = "Eve " + "".join(PIECES.values())
UPN = "eve." + NAME + "@contoso.onmicrosoft.com"
GHOST = "ghost." + NAME  # a userName only Natoma holds
MARKUP = "[bold red]x[/]"  # shown as written: never read as a style
SEEN = "\\u202eevil"  # the escaped override: proof the hostile name reached the output, inert
ESCAPED = ["\\x1b]0;pwned\\x07", SEEN, "\\x0a", "#\\x23[error]"]

HOSTILE_USER = det_id("user", "hostile-eve")
HOSTILE_GROUP = det_id("group", "hostile-group")
FOREIGN_ROLE = det_id("role", "hostile-foreign")

_STATE: list[bytes] = []  # the hostile tenant, built once per test process


def hostile_tenant(sandbox) -> None:
    """The sandbox after setup, then: a hostile user (in a configured group, and granted a Natoma role directly), a
    hostile group configured for the member role, a foreign app role with a hostile name granted to it, a hostile
    userName and role value in Natoma, and provisioning log records of the hostile user. The config file names the
    hostile group by its object id, so every name shown is read from the tenant."""
    config = Path("natoma-entra.toml")
    if _STATE:
        sandbox.path.write_bytes(_STATE[0])
        config.write_text(_STATE[1].decode())
        return
    assert sandbox.set_up().code == 0
    config.write_text(
        'app = "Natoma"\n[groups]\nadmin = ["Natoma Admins"]\nAppAdmin = ["Natoma App Admins"]\n'
        f'member = ["Natoma Members", "{HOSTILE_GROUP}"]\n[scim]\nurl = "https://natoma.sandbox.test/scim/v2"\n')
    t = sandbox.tenant()
    st = t.state
    st["users"][HOSTILE_USER] = {"id": HOSTILE_USER, "displayName": NAME, "userPrincipalName": UPN,
                                 "accountEnabled": True, "mail": UPN}
    st["groups"][HOSTILE_GROUP] = {"id": HOSTILE_GROUP, "displayName": NAME, "securityEnabled": True,
                                   "mailEnabled": False, "groupTypes": [], "description": NAME}
    st["members"][HOSTILE_GROUP] = [HOSTILE_USER]
    st["members"][group_id("Natoma Members")].append(HOSTILE_USER)
    sp, app = t.find_sp("Natoma"), t.find_app("Natoma")
    foreign = {"allowedMemberTypes": ["User"], "description": NAME, "displayName": NAME, "id": FOREIGN_ROLE,
               "isEnabled": True, "value": "Foreign", "origin": "Application"}
    app["appRoles"] = app["appRoles"] + [foreign]
    sp["appRoles"] = sp["appRoles"] + [dict(foreign)]

    def grant(principal: str, kind: str, role: str) -> None:
        aid = assignment_id(principal, sp["id"], role)
        st["appRoleAssignments"][aid] = {
            "id": aid, "appRoleId": role, "principalId": principal, "principalType": kind, "principalDisplayName": NAME,
            "resourceId": sp["id"], "resourceDisplayName": "Natoma", "createdDateTime": "2024-01-01T00:00:00Z"}

    grant(HOSTILE_USER, "User", role_id(sp["appId"], "admin"))  # a grant to a user: a comment in export
    grant(HOSTILE_GROUP, "Group", FOREIGN_ROLE)  # a foreign role: a comment in export
    from natoma_entra.sandbox.natoma import save_standin, standin_for

    standin = standin_for(t)
    standin.put_user(GHOST, ["member", NAME])
    save_standin(t, standin)
    sandbox.save(t)
    assert sandbox.cli("setup").code == 0  # the hostile group gets the member role
    sandbox.cli("provision", HOSTILE_USER)  # a provisioning log record of the hostile user (it fails: that is fine)
    logs = sandbox.tenant().state["provisioningLogs"]
    assert any((rec.get("sourceIdentity") or {}).get("id") == HOSTILE_USER for rec in logs)
    _STATE[:] = [sandbox.path.read_bytes(), config.read_bytes()]


def unsafe(text: str) -> list[str]:
    """Characters that act on a terminal or reorder text: every Cc, Cf, Zl, Zp and Cs but the line break."""
    return sorted({f"U+{ord(c):04X}" for c in text
                   if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs")})


def workflow_commands(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.lstrip().startswith("::") or "##[" in line]


def assert_inert(text: str, where: str) -> None:
    assert unsafe(text) == [], f"{where}: raw control/format characters {unsafe(text)}"
    assert workflow_commands(text) == [], f"{where}: lines a CI runner reads as commands"


def strings(doc) -> list[str]:
    if isinstance(doc, dict):
        return [s for v in doc.values() for s in strings(v)]
    if isinstance(doc, list):
        return [s for v in doc for s in strings(v)]
    return [doc] if isinstance(doc, str) else []


@pytest.fixture
def hostile(sandbox, monkeypatch):
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    hostile_tenant(sandbox)
    return sandbox


# (command, what it shows of the hostile data: the name escaped (SEEN), plus markup as written in text)
COMMANDS = [
    ("status",),
    ("doctor",),
    ("audit", "--all"),
    ("export",),
    ("logs",),
    ("sandbox", "show"),
    ("provision", HOSTILE_USER, "--verify"),
    ("--dry-run", "teardown"),
    ("--dry-run", "setup"),
]
# JSON: one document built the same way for every step command (render/report.py to_json); these cover each reader
JSON_COMMANDS = [("status",), ("audit", "--all"), ("logs",), ("sandbox", "show"), ("provision", HOSTILE_USER, "--verify")]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(x for x in a if x != HOSTILE_USER))
def test_text_output_is_inert(hostile, args):
    r = hostile.cli(*args)
    assert r.code in (0, 1, 3), r.err
    assert_inert(r.out, "stdout")
    assert_inert(r.err, "stderr")
    shown = r.out + r.err
    assert SEEN in shown, "the hostile name did not reach the output: the case proves nothing"
    assert MARKUP in shown  # shown as written, not read as a style


@pytest.mark.parametrize("args", JSON_COMMANDS, ids=lambda a: " ".join(x for x in a if x != HOSTILE_USER))
def test_json_output_is_inert_and_keeps_the_names(hostile, args):
    r = hostile.cli("--output", "json", *args)
    assert r.code in (0, 1, 3), r.err
    assert r.out.isascii(), "JSON output holds a raw non-ASCII character"
    assert_inert(r.out, "stdout")
    assert_inert(r.err, "stderr")
    doc = json.loads(r.out)
    found = " ".join(strings(doc))
    assert any(p in found for p in (NAME, UPN, GHOST)), "the names are not in the JSON document unchanged"


def test_the_trace_file_is_inert_and_keeps_the_names(hostile, tmp_path):
    """--trace FILE: every Graph and SCIM exchange as a JSON line, the tenant's names in them."""
    trace = tmp_path / "trace.jsonl"
    r = hostile.cli("--trace", str(trace), "audit", "--all")
    assert r.code in (0, 3), r.err
    text = trace.read_text(encoding="utf-8")
    assert text.isascii() and workflow_commands(text) == []
    assert all(isinstance(json.loads(line), dict) for line in text.splitlines())
    assert "ghost.Eve" in text and "pwned" in text  # Natoma's hostile userName and Graph's names reached it


def test_export_file_cannot_gain_a_key_and_shows_the_names_inert(hostile, tmp_path):
    out = tmp_path / "exported.toml"
    r = hostile.cli("export", "--write", str(out))
    assert r.code == 0, r.err
    text = out.read_text(encoding="utf-8")
    assert_inert(text, "export file")
    doc = tomllib.loads(text)
    assert set(doc) == {"app", "cloud", "groups", "scim"}
    assert set(doc["scim"]) == {"url", "token_env", "scope"}  # no token_file, whatever a name says
    assert sorted(doc["groups"]["member"]) == sorted(["Natoma Members", NAME])  # the name itself, unchanged
    shown = [line for line in text.splitlines() if SEEN in line]  # the name in a value, and in comments (notes)
    assert [line for line in shown if not line.startswith("# ")] == [line for line in shown if line.startswith("member = [")]
    assert len(shown) >= 3


def test_the_issue_s_case_a_principal_named_to_add_token_file(sandbox, tmp_path, add_assignment):
    """Issue 22: `Partner\\ntoken_file = "/path"\\n#` with a grant on the app added a token_file key to export's file,
    and `credentials --rotate` then took the SCIM token from the attacker's file."""
    from natoma_entra.config import load

    assert sandbox.set_up().code == 0
    t = sandbox.tenant()
    attacker = tmp_path / "attacker-token"
    attacker.write_text("attacker-chosen-scim-token\n")
    uid = det_id("user", "partner")
    t.state["users"][uid] = {"id": uid, "displayName": f'Partner\ntoken_file = "{attacker}"\n#',
                             "userPrincipalName": "partner@contoso.onmicrosoft.com", "accountEnabled": True}
    sp = t.find_sp("Natoma")
    add_assignment(t, uid, "User", role_id(sp["appId"], "member"))
    sandbox.save(t)
    out = tmp_path / "natoma-entra.toml"
    r = sandbox.cli("export", "--write", str(out))
    assert r.code == 0, r.err
    text = out.read_text()
    assert "token_file" not in tomllib.loads(text).get("scim", {})
    assert load(out, {}, env={}).scim.token_file is None
    line = next(line for line in text.splitlines() if "Partner" in line)
    assert line.startswith("# - Partner\\x0atoken_file = ") and "\\x0a#" in line


def test_export_write_never_follows_a_symbolic_link(sandbox, tmp_path):
    assert sandbox.set_up().code == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    link = tmp_path / "link.toml"
    link.symlink_to(victim)
    dangling = tmp_path / "dangling.toml"
    dangling.symlink_to(tmp_path / "created-through-the-link.txt")
    for path, force in ((link, False), (link, True), (dangling, False), (dangling, True)):
        r = sandbox.cli("export", "--write", str(path), *(["--force"] if force else []))
        assert r.code == 2 and "symbolic link" in r.err and len(r.err.strip().splitlines()) == 1, r.err
        assert r.requests == []  # refused before the tenant is read
    assert victim.read_text() == "precious\n"
    assert not (tmp_path / "created-through-the-link.txt").exists()
    assert link.is_symlink() and dangling.is_symlink()


def test_export_write_refuses_a_link_made_after_the_check(sandbox, tmp_path, monkeypatch):
    """The link appears between the check and the write (a race): the write itself refuses to go through it."""
    from natoma_entra import export

    assert sandbox.set_up().code == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    target = tmp_path / "new.toml"
    real_to_toml = export.to_toml

    def then_link(found):
        target.symlink_to(victim)
        return real_to_toml(found)

    monkeypatch.setattr(export, "to_toml", then_link)
    r = sandbox.cli("export", "--write", str(target))
    assert r.code == 2, r.out + r.err
    assert victim.read_text() == "precious\n"


def test_export_force_replaces_the_file_itself(sandbox, tmp_path):
    assert sandbox.set_up().code == 0
    target = tmp_path / "exported.toml"
    target.write_text("old\n")
    target.chmod(0o600)
    r = sandbox.cli("export", "--write", str(target), "--force")
    assert r.code == 0, r.err
    assert tomllib.loads(target.read_text())["app"] == "Natoma"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".exported.toml.")] == []


def test_a_hostile_app_name(sandbox, monkeypatch):
    """The app's own display name is data too: every command's first line prints it."""
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    assert sandbox.set_up().code == 0
    t = sandbox.tenant()
    sp, app = t.find_sp("Natoma"), t.find_app("Natoma")
    sp["displayName"] = app["displayName"] = NAME
    sandbox.save(t)
    Path("natoma-entra.toml").write_text(f'app = "{sp["appId"]}"\n')
    for args in (("status",), ("doctor",), ("audit",), ("export",), ("probe",)):
        r = sandbox.cli(*args)
        assert r.code in (0, 1, 3), (args, r.err)
        assert_inert(r.out + r.err, " ".join(args))
        assert SEEN in r.out + r.err, args


@pytest.mark.parametrize("verbose", [False, True])
def test_error_lines_are_inert(sandbox, monkeypatch, verbose):
    """main()'s own lines: an error that carries a name (exit 2, and its JSON document), and an unexpected exception
    (with --verbose, its traceback too). A failed step's line (error_line) is in the `provision` case above."""
    from natoma_entra.graph.errors import UsageError
    from natoma_entra.steps import roles

    def refuse(*args, **kwargs):
        raise UsageError(f"no group named {NAME}", fix=f"check {NAME}")

    monkeypatch.setattr(roles, "plan", refuse)
    flags = ["--verbose"] if verbose else []
    r = sandbox.cli(*flags, "roles")
    assert r.code == 2
    assert_inert(r.err, "stderr")
    assert SEEN in r.err and (verbose or len(r.err.strip().splitlines()) == 1)
    j = sandbox.cli(*flags, "--output", "json", "roles")
    assert j.out.isascii() and json.loads(j.out)["error"] == f"no group named {NAME}"

    def boom(*args, **kwargs):
        raise RuntimeError(NAME)

    monkeypatch.setattr(roles, "plan", boom)
    r = sandbox.cli(*flags, "roles")
    assert r.code == 1 and ("Traceback" in r.err) == verbose
    assert_inert(r.err, "stderr")
    assert SEEN in r.err


def test_progress_lines_and_the_spinner_are_inert(capsys):
    """say(): a line on stderr, or the spinner's text at a terminal (given as Text: rich reads a str as markup)."""
    from rich.text import Text

    from natoma_entra.cli.application import Application

    g = Application()
    g.say(f"reading {NAME}")
    err = capsys.readouterr().err
    assert_inert(err, "say")
    assert SEEN in err and MARKUP in err

    class Spinner:
        def update(self, text):
            self.text = text

    g._spinner = spinner = Spinner()
    g.say(f"reading {NAME}")
    assert isinstance(spinner.text, Text) and unsafe(spinner.text.plain) == [] and MARKUP in spinner.text.plain
    g.error_line(f"error: {NAME}")
    assert_inert(capsys.readouterr().err, "error_line")


def test_the_verbose_trace_is_inert(caplog):
    import logging

    from natoma_entra.redact import RedactingFilter

    record = logging.LogRecord("natoma_entra.scim", logging.DEBUG, __file__, 1, "GET %s -> %s", (NAME, 200), None)
    assert RedactingFilter().filter(record)
    assert_inert(record.getMessage(), "log record")


def test_the_escaping_covers_every_control_and_format_character():
    """inert.py lists the characters it escapes by hand (a regex built at import, not a scan of the Unicode
    database at every start): every Cc, Cf, Zl, Zp and Cs code point of this Python's Unicode is among them. Planes
    0, 1 and 14 hold them all (planes 2-3 are CJK ideographs, 15-16 private use, 4-13 unassigned)."""
    from natoma_entra.inert import escape

    planes = (range(0, 0x20000), range(0xE0000, 0xF0000))
    missed = [f"U+{n:04X}" for plane in planes for n in plane
              if unicodedata.category(chr(n)) in ("Cc", "Cf", "Zl", "Zp", "Cs") and escape(chr(n)) == chr(n)]
    assert missed == []


@pytest.mark.parametrize("name,expected", [
    ("\x1b[31mred", "\\x1b[31mred"),
    ("a\u202eb", "a\\u202eb"),
    ("::error::x", ":\\x3aerror:\\x3ax"),
    (":::", ":\\x3a\\x3a"),
    ("##[error]x", "#\\x23[error]x"),
    ("x\U000e0041", "x\\U000e0041"),
    ("Zoë, 漢字, emoji 🙂", "Zoë, 漢字, emoji 🙂"),  # letters and symbols are left as they are
])
def test_escape(name, expected):
    from natoma_entra.inert import escape

    assert escape(name) == expected


def test_a_line_keeps_its_own_colons_but_never_starts_with_two():
    from natoma_entra.inert import escape_line

    assert escape_line("serving on http://[::1]:8080") == "serving on http://[::1]:8080"
    assert escape_line("  ::error::x").lstrip().startswith(":\\x3a")
    assert escape_line("\u3000::error::x").lstrip()[:2] != "::"  # an ideographic space is trimmed by the runner too


def test_toml_strings_read_back_exactly():
    from natoma_entra.inert import toml_string

    for value in (NAME, 'Partner\ntoken_file = "/path"\n#', 'q"uote\\back', "tab\there"):
        assert tomllib.loads(f"k = {toml_string(value)}")["k"] == value
        assert unsafe(toml_string(value)) == [] and "\n" not in toml_string(value)


def test_a_name_toml_cannot_carry_is_refused_not_written():
    """A lone surrogate (JSON can carry one; TOML and UTF-8 cannot): export refuses (exit 2) rather than write a file
    that does not read back as the tenant."""
    from natoma_entra.export import Export, Unwritable, to_toml

    with pytest.raises(Unwritable):
        to_toml(Export(app="Natoma\ud800", tenant=None, cloud="global"))
    assert tomllib.loads(to_toml(Export(app=NAME, tenant=None, cloud="global", notes=[NAME])))["app"] == NAME


def test_the_actions_job_summary_shows_the_names_as_text(tmp_path, capsys):
    """action.yml writes the job summary with `natoma-entra --output markdown show REPORT`: a name there is text, not
    markdown, HTML, a table cell break or a new line, even in a report the CLI did not write itself."""
    import yaml

    from natoma_entra.cli.main import run

    action = yaml.safe_load((Path(__file__).resolve().parents[2] / "action.yml").read_text())
    step = next(s["run"] for s in action["runs"]["steps"] if s.get("id") == "run")
    assert 'natoma-entra --output markdown show "$INPUT_OUTPUT_FILE" >> "$GITHUB_STEP_SUMMARY"' in step
    evil = NAME + " **bold** [click](https://evil.test/) ![](https://evil.test/t.png) <img src=x> | a | b |"
    report = {"command": "status", "ok": False, "exit_code": 1, "app": {"displayName": evil, "appId": "x"},
              "error": evil, "fix": evil, "warnings": [evil],
              "steps": [{"step": "assign", "status": "failed", "changes": [], "info": {"state": evil},
                         "error": evil, "fix": evil}]}
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    with pytest.raises(SystemExit) as e:
        run(["--output", "markdown", "show", str(path)])
    assert e.value.code == 0
    summary = capsys.readouterr().out
    assert unsafe(summary) == [] and workflow_commands(summary) == []
    assert "<img" not in summary and "&lt;img src=x&gt;" in summary
    for raw in ("**bold**", "[click]", "![]", "| a | b |"):  # each only with its punctuation escaped
        assert raw not in summary
    row = next(line for line in summary.splitlines() if line.startswith("| assign |"))
    assert len(re.findall(r"(?<!\\)\|", row)) == 4  # the table keeps its three columns
    assert "\\u202eevil" in summary and "\\*\\*bold\\*\\*" in summary
    assert "\\[click\\](https://evil.test/)" in summary
    assert "**Exit 1** (a step failed)" in summary


MARKDOWN_TAGS = {"<details>", "</details>", "<summary>", "</summary>", "<br>"}


def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


@pytest.mark.parametrize("args", [("status",), ("doctor",), ("audit", "--all"), ("--dry-run", "setup")],
                         ids=lambda a: " ".join(a))
def test_markdown_output_is_inert_and_no_name_can_break_out_of_its_cell(hostile, args):
    """-o markdown (a pull-request comment, a job summary): the hostile names reach it escaped, as text: no control
    character, no workflow command, no HTML of theirs, no markup read, and no table row with a cell more or less
    than its header (a `|` in a name is escaped)."""
    r = hostile.cli("--output", "markdown", *args)
    assert r.code in (0, 1, 3), r.err
    assert_inert(r.out, "stdout")
    assert SEEN in r.out, "the hostile name did not reach the output: the case proves nothing"
    assert "\\[bold red\\]x\\[/\\]" in r.out  # markup escaped: shown as written
    assert set(re.findall(r"<[^>\n]*>", r.out)) <= MARKDOWN_TAGS and "&lt;img src=x" in r.out
    assert "\\*\\*bold\\*\\*" in r.out and "@&#8203;org/team" in r.out and "@org/team" not in r.out
    tables = re.findall(r"(?:^\|.*\n)+", r.out, re.M)
    assert tables
    for table in tables:
        rows = table.splitlines()
        assert {_unescaped_pipes(row) for row in rows} == {_unescaped_pipes(rows[0])}, table
