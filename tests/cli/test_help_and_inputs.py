"""Issue 12 items 2 and 4: --help that shows what it says (brackets, no <bool>, the global options), --quiet on every
command, status and doctor with setup's inputs, and fix texts that name only flags that exist."""
import ast
import re
from pathlib import Path

import pytest
import typer.main
from source_scan import package_files, parsed

ROOT = Path(__file__).resolve().parents[2]


def _root():
    from natoma_entra.cli.main import _register, app

    _register()
    return typer.main.get_command(app)


def _commands(cmd=None, path=("natoma-entra",)):
    cmd = cmd or _root()
    for name, sub in getattr(cmd, "commands", {}).items():
        if hasattr(sub, "commands"):
            yield from _commands(sub, path + (name,))
        else:
            yield path[1:] + (name,), sub


COMMANDS = list(_commands())


def _known_flags() -> set[str]:
    known = {"--help"}
    for _path, cmd in COMMANDS + [((), _root())]:
        for p in cmd.params:
            known.update(o for o in list(p.opts) + list(p.secondary_opts) if o.startswith("--"))
    return known


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[" ".join(c[0]) for c in COMMANDS])
def test_help_shows_brackets_no_bool_and_the_global_options(sandbox, path, cmd):
    r = sandbox.cli(*path, "--help")
    assert r.code == 0, r.err
    text = " ".join(r.out.split())  # help is wrapped at the terminal's width (at most 100 columns)
    assert "<bool>" not in text
    assert "Global options (before or after the command)" in text and "see natoma-entra --help" in text
    for p in cmd.params:
        for word in re.findall(r"\\?\[([A-Za-z]+)\]", p.help or ""):
            assert f"[{word}]" in text, f"{' '.join(path)} {p.opts}: [{word}] is lost in --help"
        assert " ".join((p.help or "").split()) in text, f"{' '.join(path)} {p.opts}: its help is not shown whole"


def test_every_flag_named_in_a_message_exists():
    """Fix texts, errors and hints (every string in the code but docstrings) name only flags some command has;
    `az login --allow-no-subscriptions` and the preflight's grant commands (preflight.AZ_FLAGS) are the Azure CLI's
    own flags."""
    from natoma_entra.preflight import AZ_FLAGS

    known = _known_flags() | {"--allow-no-subscriptions"} | AZ_FLAGS
    unknown = {}
    for path in package_files():
        tree = parsed(path)
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                      and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", node.value):
                    if flag not in known:
                        unknown.setdefault(flag, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not unknown, unknown


def test_quiet_converged_tenant_prints_nothing(sandbox):
    assert sandbox.set_up().code == 0
    for command in ("roles", "assign", "mapping", "credentials", "start", "status", "setup"):
        r = sandbox.cli("--quiet", command)
        assert r.code == 0, (command, r.err)
        assert r.out == "" and r.err == "", (command, r.out, r.err)


def test_status_and_doctor_take_setups_inputs_without_a_config_file(sandbox):
    assert sandbox.set_up().code == 0
    groups = ("--group", "admin=Natoma Admins", "--group", "AppAdmin=Natoma App Admins",
              "--group", "member=Natoma Members")
    r = sandbox.cli("status", "--exit-code", *groups, "--scim-url", "https://natoma.sandbox.test/scim/v2",
                    "--scope", "assigned", "--single-role")
    assert r.code == 0, r.out + r.err
    r = sandbox.cli("status", "--exit-code", "--output", "json", *groups, "--multi-role")
    assert r.code == 3 and {s["step"]: s["info"]["state"] for s in r.json()["steps"]}["mapping"] == "drifted"
    r = sandbox.cli("status", "--exit-code", "--output", "json", "--group", "admin=Natoma Admins")
    assert r.code == 3  # the other two groups' grants are not configured: drift named
    doc = sandbox.cli("doctor", "--output", "json", *groups, "--multi-role")
    mapping = next(s for s in doc.json()["steps"] if s["step"] == "mapping")
    assert mapping["info"]["verdict"] == "fail" and mapping["fix"] == "natoma-entra mapping --multi-role"
    doc = sandbox.cli("doctor", "--output", "json", "--group", "admin=No Such Group")
    check = next(s for s in doc.json()["steps"] if s["step"] == "groups-assigned")
    assert check["info"]["verdict"] == "fail" and "No Such Group" in " ".join(check["info"]["details"])
    assert sandbox.cli("status", "--scope", "some").code == 2


@pytest.mark.parametrize("columns", ["60", "100", "200"])
def test_help_keeps_flags_examples_and_command_lines_whole(sandbox, monkeypatch, columns):
    """Click's wrapping would cut "--dry-" / "run" and end a command's line in the list with "..."; examples keep a
    line each. Help is never wider than 100 columns."""
    monkeypatch.setenv("COLUMNS", columns)
    top = sandbox.cli("--help")
    assert top.code == 0
    assert not [line for line in top.out.splitlines() if line.endswith("...") and not line.startswith("Usage:")]
    words = " ".join(top.out.split())
    for path, cmd in COMMANDS:
        if len(path) == 1:
            assert " ".join(cmd.get_short_help_str().split()) in words, path
    for path, cmd in COMMANDS:
        r = sandbox.cli(*path, "--help")
        lines = r.out.splitlines()
        # at most 100 columns, but for an example (a command to copy) and a word too long to break (an expression)
        assert all(len(line) <= 100 or line.strip().startswith("Example:") or any(len(w) > 40 for w in line.split())
                   for line in lines), path
        source = " ".join([cmd.help or "", cmd.epilog or ""] + [p.help or "" for p in cmd.params])
        for word in set(re.findall(r"--[a-z][a-z-]*[a-z]|natoma-entra", source)):  # flags and the command's name
            assert re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", r.out), f"{' '.join(path)}: {word} is cut"
        examples = [line.strip() for line in (cmd.help or "").splitlines() if line.strip().startswith("Example:")]
        for example in examples:
            assert any(line.strip() == example for line in lines), f"{' '.join(path)}: {example!r} was rewrapped"


@pytest.mark.parametrize("args", [(), ("sandbox",), ("config",), ("app",)])
def test_a_command_group_alone_shows_its_help_and_says_a_command_is_missing(sandbox, args):
    """`natoma-entra` (or `natoma-entra sandbox`) alone: the help on stdout, one line on stderr, exit 2; under -o json
    one JSON document instead of the help."""
    import json

    r = sandbox.cli(*args)
    path = " ".join(("natoma-entra",) + args)
    assert r.code == 2
    assert r.out.startswith(f"Usage: {path} [OPTIONS] COMMAND")
    assert r.err == f"error: Missing command. Fix: see {path} --help\n"
    r = sandbox.cli("-o", "json", *args)
    assert r.code == 2 and json.loads(r.out)["exit_code"] == 2 and json.loads(r.out)["error"] == "Missing command."


@pytest.mark.parametrize("args,path", [
    (("setup", "--group"), "natoma-entra setup"),
    (("-o", "text", "setup", "-g"), "natoma-entra setup"),
    (("sandbox", "serve", "--port"), "natoma-entra sandbox serve"),
    (("--timeout",), "natoma-entra"),
    (("setup", "--no-such-flag"), "natoma-entra setup"),
])
def test_an_option_without_its_value_names_the_commands_help(sandbox, args, path):
    r = sandbox.cli(*args)
    assert r.code == 2 and r.err.count("\n") == 1
    assert r.err.endswith(f"Fix: see {path} --help\n"), r.err
