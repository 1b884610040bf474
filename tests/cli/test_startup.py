"""`--help` and usage errors import neither msgraph nor azure.identity (design.md 4: fast start-up)."""
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
