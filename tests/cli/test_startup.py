"""`--help` and usage errors import neither msgraph nor azure.identity (docs/performance.md: start-up)."""
import subprocess
import sys

import pytest

PROBE = """
import sys
from natoma_entra.cli.main import run
try:
    run({args!r})
except SystemExit as e:
    code = e.code
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('msgraph', 'azure', 'kiota_http', 'msgraph_core'))
print('HEAVY=' + ','.join(heavy), file=sys.stderr)
print('LIGHT=' + ','.join(sorted(m for m in ('pydantic', 'rich') if m in sys.modules)), file=sys.stderr)
sys.exit(code)
"""


@pytest.mark.parametrize("args,code", [
    (["--help"], 0),
    (["roles", "--help"], 0),
    (["setup", "--help"], 0),
    (["--version"], 0),
    (["--output", "yaml", "status"], 2),  # a usage error
    (["no-such-command"], 2),
])
def test_help_and_usage_errors_import_no_graph_or_identity_modules(args, code):
    p = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True)
    assert p.returncode == code, p.stderr
    heavy = [line for line in p.stderr.splitlines() if line.startswith("HEAVY=")][-1]
    assert heavy == "HEAVY=", heavy
    # issue 13: nor pydantic (typer's value conversion) nor rich (typer's help panels): about 200 ms between them
    light = [line for line in p.stderr.splitlines() if line.startswith("LIGHT=")][-1]
    assert light == "LIGHT=", light


def _params():
    from natoma_entra.cli.main import _click_command

    def walk(cmd, path):
        for p in cmd.params:
            if hasattr(p, "type_descriptor"):
                yield " ".join(path + [p.name]), p
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, path + [name])

    return list(walk(_click_command(), []))


def _samples(p):
    from enum import Enum

    values = [None, p.default, "", "x", "yaml", "0", "5", "1e3", "abc", "300", "99999", "-1", "JSON", "json", "text"]
    kind = p.type_descriptor.annotation
    if isinstance(kind, type) and issubclass(kind, Enum):
        values += list(kind) + [m.value for m in kind]
    if kind in (int, float):
        values += [kind(0), kind(1), kind(5), kind(86400), kind(99999)]
    return values


def test_the_light_value_conversion_gives_what_typers_own_gives():
    """Every parameter, on values from the command line, the environment and the code's defaults: the same value or
    the same error message as typer's pydantic conversion."""
    from typer._click import Context
    from typer._click.exceptions import BadParameter
    from typer._coercion import build_runtime_param

    from natoma_entra.cli.main import _click_command
    from natoma_entra.cli.typer_tuning import LightCoercion

    ctx = Context(_click_command())
    checked = 0
    for name, p in _params():
        theirs, ours = build_runtime_param(p.type_descriptor), LightCoercion(p)
        for value in _samples(p):
            outcome = []
            for conv in (theirs, ours):
                try:
                    outcome.append(("value", conv.coerce(value, param=p, ctx=ctx)))
                except BadParameter as e:
                    outcome.append(("error", e.format_message()))
            assert outcome[0] == outcome[1], (name, value, outcome)
            checked += 1
    assert checked > 500


def test_every_command_has_help_with_an_example():
    from natoma_entra.cli.main import _register, app

    _register()
    import typer.main

    group = typer.main.get_command(app)
    names = [n for n in group.commands if n != "sandbox"]
    assert {"setup", "roles", "assign", "mapping", "credentials", "start", "status"} <= set(names)
    for name in names:
        cmd = group.commands[name]
        assert cmd.help and "Example:" in cmd.help, name


def test_every_command_has_a_docs_page():
    from pathlib import Path

    from natoma_entra.cli.main import _register, app

    _register()
    import typer.main

    docs = Path(__file__).parents[2] / "docs"
    for name in typer.main.get_command(app).commands:
        assert (docs / f"{name}.md").is_file(), f"docs/{name}.md is missing"


def test_python_dash_m_works():
    p = subprocess.run([sys.executable, "-m", "natoma_entra", "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("natoma-entra ")


def test_the_light_value_conversion_falls_back_to_typers_own_when_its_internals_move():
    """A typer release whose parameters no longer carry what LightCoercion reads: every value goes through typer's
    own conversion, with the same answers and errors."""
    from typer._click import Context
    from typer._click.exceptions import BadParameter
    from typer._coercion import build_runtime_param

    from natoma_entra.cli.main import _click_command
    from natoma_entra.cli.typer_tuning import LightCoercion

    def internals_moved(*args):
        raise AttributeError("'TypeDescriptor' object has no attribute 'is_choice'")

    ctx = Context(_click_command())
    params = dict(_params())
    for name, good, bad in (("output", "json", "yaml"), ("timeout", "5", "0")):
        param = params[name]
        light = LightCoercion(param)
        light._answer = internals_moved
        assert light.coerce(good, param=param, ctx=ctx) == build_runtime_param(param.type_descriptor).coerce(
            good, param=param, ctx=ctx)
        assert light.real is not None  # typer's own conversion answered
        with pytest.raises(BadParameter):
            light.coerce(bad, param=param, ctx=ctx)
