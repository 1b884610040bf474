"""`--help` and usage errors import neither msgraph nor azure.identity (fast start-up: docs/performance.md)."""
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


@pytest.mark.parametrize("args,code,converts", [
    (["--help"], 0, False),
    (["roles", "--help"], 0, False),
    (["setup", "--help"], 0, False),
    (["sandbox", "serve", "--help"], 0, False),
    (["--version"], 0, False),
    (["no-such-command"], 2, False),
    (["--output", "yaml", "status"], 2, False),
    # a bad value of another global option: typer converts the global options it parses with pydantic (typer 0.29
    # has no public way around it; docs/performance.md)
    (["--timeout", "0", "status"], 2, True),
])
def test_help_and_usage_errors_import_no_graph_or_identity_modules(args, code, converts):
    p = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True)
    assert p.returncode == code, p.stderr
    heavy = [line for line in p.stderr.splitlines() if line.startswith("HEAVY=")][-1]
    assert heavy == "HEAVY=", heavy
    # issue 13: nor rich (typer's help panels), nor pydantic where nothing is converted: ~200 ms between them
    light = [line for line in p.stderr.splitlines() if line.startswith("LIGHT=")][-1].removeprefix("LIGHT=")
    assert "rich" not in light.split(","), light
    if not converts:
        assert light == "", light


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
