"""Issue 21: typer through its public API only, the global options that may follow a command held to the real ones,
a command's --help, an unknown command and a bad output format answered without parsing the global options, and each
command built when first asked for."""
import ast

import pytest
import typer.main
from source_scan import ROOT, package_files, parsed

from natoma_entra.cli import command_tree
from natoma_entra.cli import early
from natoma_entra.cli.early import command_help, output_format
from natoma_entra.cli.main import FLAG_OPTIONS, VALUE_OPTIONS, _click_command, _register, app, hoist_globals, run


def _dotted(node: ast.AST) -> str:
    """`typer.core._X` for an attribute chain on a name; "" for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else ""


def _private(dotted: str) -> bool:
    """A private part of typer: a module or name that starts with one underscore (dunders are public)."""
    parts = dotted.split(".")
    return parts[0] == "typer" and any(p.startswith("_") and not p.startswith("__") for p in parts[1:])


def test_no_module_reaches_into_typer_internals():
    """No `import typer._x`, `from typer._x import ...`, `from typer.core import _X`, nor `typer.core._X` in the
    package or its tests (typer 0.29 vendors Click under typer._click: that is typer's to change)."""
    files = package_files() + sorted((ROOT / "tests").rglob("*.py"))
    found = []
    for path in files:
        if "typer" not in path.read_text():
            continue
        for node in ast.walk(parsed(path)):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Attribute):
                names = [_dotted(node)]
            found += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names if _private(n)]
    assert not found, found
    assert _private("typer._click.exceptions") and _private("typer.core._TyperParameter")  # the check itself
    assert not _private("typer.core.TyperGroup") and not _private("typer.__version__")


def test_the_global_options_that_may_follow_the_command_are_the_root_options():
    """hoist_globals moves these to the front (README: global options may be written before or after the command); a
    global option added to the root callback is in one of the two sets (a flag or an option with a value). The
    completion flags are answered wherever they stand (completion.handle)."""
    flags, values = set(), set()
    for param in _click_command().params:
        if not param.expose_value:  # --install-completion, --show-completion
            continue
        names = set(param.opts) | set(param.secondary_opts)
        (flags if param.is_flag else values).update(names)
    assert FLAG_OPTIONS == flags
    assert VALUE_OPTIONS == values
    assert hoist_globals(["roles", "--version", "--timeout", "5", "-o=json"]) == ["--version", "--timeout", "5",
                                                                                 "-o=json", "roles"]


def _paths(command, path=()):
    ctx = typer.Context(command)
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        yield path + (name,)
        if hasattr(sub, "commands"):
            yield from _paths(sub, path + (name,))


PATHS = list(_paths(_click_command()))


@pytest.mark.parametrize("path", PATHS, ids=[" ".join(p) for p in PATHS])
def test_a_commands_help_without_global_options_is_the_help_typer_renders(capsys, monkeypatch, path):
    """`natoma-entra CMD --help` is answered without parsing the global options (pydantic stays out): the same text,
    at any width, as the whole command line through typer."""
    for columns in ("60", "100"):
        monkeypatch.setenv("COLUMNS", columns)
        with pytest.raises(SystemExit) as e:
            run(["--dry-run", *path, "--help"])  # a global option: the whole line goes through typer
        assert e.value.code == 0
        assert command_help(_click_command(), ["--dry-run", *path, "--help"]) is None
        assert command_help(_click_command(), [*path, "-h"]) + "\n" == capsys.readouterr().out
    # a value for a global option from the environment is checked as typer checks it
    monkeypatch.setenv("NATOMA_ENTRA_OUTPUT", "json")
    assert command_help(_click_command(), [*path, "--help"]) is None


def test_more_than_a_command_and_its_help_goes_through_typer():
    root = _click_command()
    for args in (["setup", "extra", "--help"], ["setup", "--group", "--help"], ["--help"], ["setup"],
                 ["setup", "--help", "--dry-run"], ["sandbox"], ["-o", "json", "bogus"]):
        assert command_help(root, args) is None, args


@pytest.mark.parametrize("words", [["bogus"], ["bogus", "--help"], ["sandbox", "bogus"], ["sandbox", "bogus", "-h"]])
def test_a_word_that_is_not_a_command_is_told_as_typer_tells_it(capsys, words):
    """Without global options the error comes from Click's own resolve_command, without parsing them: the same line
    and exit code as when the whole command line goes through typer."""
    with pytest.raises(typer.TyperException):
        command_help(_click_command(), words)
    outcomes = []
    for args in (words, ["--dry-run", *words]):
        with pytest.raises(SystemExit) as e:
            run(args)
        outcomes.append((e.value.code, capsys.readouterr()))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == 2 and "No such command 'bogus'" in outcomes[0][1].err


def test_each_command_is_built_when_first_asked_for_and_as_typer_builds_it(monkeypatch):
    built = []
    real = command_tree.build_one
    monkeypatch.setattr(command_tree, "build_one", lambda info: built.append(info.name) or real(info))
    _register()
    lazy = command_tree.build(app)
    ctx = typer.Context(lazy, info_name="natoma-entra")
    lazy.get_help(ctx)  # the group's list of commands
    assert built == []
    eager = typer.main.get_command(app)
    assert lazy.list_commands(ctx) == eager.list_commands(ctx)
    for name in eager.list_commands(ctx):
        mine, theirs = lazy.get_command(ctx, name), eager.get_command(ctx, name)
        assert type(mine) is type(theirs)
        assert (mine.name, mine.help, mine.short_help, mine.epilog, mine.hidden) == (
            theirs.name, theirs.help, theirs.short_help, theirs.epilog, theirs.hidden)
        assert [(p.name, p.opts, p.secondary_opts, p.help, p.default, p.hidden) for p in mine.params] == [
            (p.name, p.opts, p.secondary_opts, p.help, p.default, p.hidden) for p in theirs.params]
        assert mine.get_help(typer.Context(mine, info_name=name, parent=ctx)) == theirs.get_help(
            typer.Context(theirs, info_name=name, parent=ctx))
    assert built == [n for n in eager.list_commands(ctx) if not hasattr(eager.get_command(ctx, n), "commands")]
    lazy.get_command(ctx, "setup")
    assert built.count("setup") == 1  # built once


def test_the_output_format_is_read_as_typer_reads_it(monkeypatch):
    monkeypatch.delenv("NATOMA_ENTRA_OUTPUT", raising=False)
    assert output_format(["--output", "yaml", "status"]) == ("yaml", "--output")
    assert output_format(["--dry-run", "--output=json", "--timeout", "5", "status"]) == ("json", "--output")
    assert output_format(["--timeout", "0", "--output=yaml", "status"]) is None  # Click converts --timeout first
    assert output_format(["-o", "json", "-o", "yaml", "status"]) == ("yaml", "--output")  # the last one wins
    assert output_format(["-ojson", "status"]) == ("json", "--output")  # a short option glued to its value
    assert output_format(["-o=json", "status"]) == ("=json", "--output")  # Click reads "=json" so
    assert output_format(["status"]) is None
    assert output_format(["-vq", "-o", "yaml", "status"]) is None  # a cluster: typer reads it
    assert output_format(["-o"]) is None  # no value: typer says so
    assert output_format(["-o", "yaml", "--timeout"]) is None  # nor here: Click's parser stops first
    assert output_format(["-o", "yaml", "--version"]) is None  # Click answers --version (and --help) first
    assert output_format(["-o", "yaml", "-h"]) is None
    monkeypatch.setenv("NATOMA_ENTRA_OUTPUT", "")
    assert output_format(["status"]) is None  # empty is unset, for Click too
    monkeypatch.setenv("NATOMA_ENTRA_OUTPUT", "JSON")
    assert output_format(["status"]) == ("JSON", "NATOMA_ENTRA_OUTPUT")
    assert output_format([]) is None  # nothing given: typer shows the help, whatever the variable says
    assert output_format(["-o", "text", "status"]) == ("text", "--output")
    assert output_format(["--app", "Natoma", "status"]) is None  # the variable's value is converted after --app


@pytest.mark.parametrize("args,env", [
    (["--output", "yaml", "status"], None), (["-o", "JSON", "roles"], None), (["-oyaml", "status"], None),
    (["-o=json", "status"], None), (["--output=", "status"], None), (["-o", "json", "-o", "xml", "bogus"], None),
    (["status"], "yaml"), (["--dry-run", "status"], "json "),
])
def test_a_bad_output_format_is_said_as_typer_says_it(capsys, monkeypatch, args, env):
    """Said before the other global options are parsed (pydantic stays out): the same line and exit code as typer's
    own conversion of --output gives."""
    if env is None:
        monkeypatch.delenv("NATOMA_ENTRA_OUTPUT", raising=False)
    else:
        monkeypatch.setenv("NATOMA_ENTRA_OUTPUT", env)
    outcomes = []
    for checked_early in (True, False):
        if not checked_early:
            monkeypatch.setattr(early, "output_format", lambda args: None)  # typer converts --output itself
        with pytest.raises(SystemExit) as e:
            run(args)
        outcomes.append((e.value.code, capsys.readouterr()))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == 2 and "is not an output format (text, json or markdown)" in outcomes[0][1].err
