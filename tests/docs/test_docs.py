"""The docs' content: a page per command listing every option its --help lists, every environment variable the code
reads, the generated parts (synopses, option tables, permission tables, the report schema) up to date, and no
reference to files outside the repository. The built site's HTML: test_site.py; the pages in the package:
test_manual.py."""
import ast
import json
import re
import sys
from pathlib import Path

import pytest
import typer.main
from source_scan import parsed

from natoma_entra import permissions

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
sys.path.insert(0, str(Path(__file__).parent))
import generate  # noqa: E402

REGENERATE = "run `python tests/docs/generate.py` and commit the result"


def _cli():
    from natoma_entra.cli.main import _register, app

    _register()
    return typer.main.get_command(app)


def _commands():
    """(page, command path, click command) for the root app, every command and every sandbox sub-command."""
    root = _cli()
    yield "configuration.md", "natoma-entra", root
    for name, cmd in root.commands.items():
        if hasattr(cmd, "commands"):  # a group: its sub-commands share the group's page
            for sub_name, sub in cmd.commands.items():
                yield f"{name}.md", f"natoma-entra {name} {sub_name}", sub
        else:
            yield f"{name}.md", f"natoma-entra {name}", cmd


def _options(cmd) -> list[str]:
    """What --help lists: every option's long names (and the secondary --no-x of a boolean pair), minus --help."""
    found = []
    for p in cmd.params:
        if p.param_type_name != "option" or getattr(p, "hidden", False):
            continue
        found += [o for o in p.opts + p.secondary_opts if o.startswith("--") and o != "--help"]
    return found


COMMANDS = list(_commands())


@pytest.mark.parametrize("page,path,cmd", COMMANDS, ids=[c[1] for c in COMMANDS])
def test_every_option_in_help_is_on_the_commands_page(page, path, cmd):
    text = (DOCS / page).read_text()
    missing = [o for o in _options(cmd) if not re.search(re.escape(o) + r"(?![\w-])", text)]
    assert not missing, f"docs/{page} does not mention {missing} ({path} --help lists them)"


def test_every_command_has_a_page_in_the_site_nav():
    nav = (ROOT / "mkdocs.yml").read_text()
    for page, _path, _cmd in COMMANDS:
        assert re.search(rf"\b{re.escape(page)}\b", nav), f"{page} is not in mkdocs.yml's nav"


def _env_vars_read_by_the_code() -> set[str]:
    """Environment variable names the code reads: os.environ / env .get(...) / [...], envvar=..., and the names it
    hands to a helper that reads them (_need(env, ...)) or keeps in an env-name constant or table."""
    found: set[str] = set()
    name = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$")
    for path in (ROOT / "natoma_entra").rglob("*.py"):
        src = path.read_text()
        for m in re.finditer(r"""(?:os\.environ|\benv)(?:\.get\(|\[)\s*["']([A-Z][A-Z0-9_]+)["']""", src):
            found.add(m.group(1))
        for m in re.finditer(r"""envvar\s*=\s*["']([A-Z][A-Z0-9_]+)["']""", src):
            found.add(m.group(1))
        for node in ast.walk(parsed(path)):
            # NAME_ENV = "X", ENV_DEFAULTS = {...: "X"}, token_env: str = "X", _need(env, "X", ...)
            targets = []
            if isinstance(node, ast.Assign):
                targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
                value = node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                targets, value = [node.target.id], node.value
            elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "_need":
                found.update(a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
                continue
            else:
                continue
            if value is None or not any(re.search(r"(^|_)ENV($|_)", t.upper()) for t in targets):
                continue
            for c in ast.walk(value):
                if isinstance(c, ast.Constant) and isinstance(c.value, str) and name.match(c.value):
                    found.add(c.value)
    return found


def test_every_environment_variable_the_code_reads_is_documented():
    found = _env_vars_read_by_the_code()
    # the scan finds the known ones (so an empty or broken scan cannot pass)
    assert {"NATOMA_SCIM_TOKEN", "NATOMA_ENTRA_APP", "AZURE_CLIENT_ID", "NATOMA_ENTRA_OUTPUT",
            "NATOMA_ENTRA_SANDBOX_STATE", "NATOMA_ENTRA_ACCESS_TOKEN"} <= found, found
    # XDG_STATE_HOME is read by platformdirs (sandbox/backend.py), not by this code: documented all the same
    text = (DOCS / "configuration.md").read_text()
    missing = sorted(v for v in found if f"`{v}`" not in text)
    assert not missing, f"docs/configuration.md does not list {missing}"


def test_every_config_key_is_documented():
    from natoma_entra.config import Config

    text = (DOCS / "configuration.md").read_text()
    keys = []
    for name, field in Config.model_fields.items():
        sub = getattr(field.annotation, "model_fields", None)
        keys += [f"{name}.{s}" for s in sub] if sub else [name]
    missing = [k for k in keys if f"`{k}`" not in text and f"`{k.split('.')[-1]}`" not in text]
    assert not missing, f"docs/configuration.md does not list the config keys {missing}"


def test_report_schema_is_generated_from_the_model():
    assert (DOCS / "report.schema.json").read_text() == generate.report_schema(), REGENERATE


def test_plan_schema_is_generated_from_the_model():
    assert (DOCS / "plan.schema.json").read_text() == generate.plan_schema(), REGENERATE


def test_a_real_plan_file_is_valid_against_the_schema(sandbox, tmp_path):
    """Every field a --plan-out file holds is in the schema, each operation's kind among the schema's, and the
    aliased field (PutSchema's `schema`) under the name the file uses."""
    schema = json.loads((DOCS / "plan.schema.json").read_text())
    assert sandbox.cli("mapping", "--plan-out", str(tmp_path / "plan.json")).code == 0
    doc = json.loads((tmp_path / "plan.json").read_text())
    assert set(doc) == set(schema["properties"]) and set(schema["required"]) <= set(doc)
    kinds = {d["properties"]["kind"]["const"] for d in schema["$defs"].values()
             if "kind" in d.get("properties", {}) and "const" in d["properties"]["kind"]}
    ops = [op for step in doc["steps"] for op in step["operations"]]
    assert ops and {op["kind"] for op in ops} <= kinds
    put = next(op for op in ops if op["kind"] == "put-schema")
    assert "schema" in put and "schema" in schema["$defs"]["PutSchema"]["properties"]


def test_the_readmes_global_options_name_every_global_option():
    """README's "Global options" left out --sandbox-variant (issue 26)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Global options\n", 1)[1].split("\n## ", 1)[0]
    missing = [o for o in _options(COMMANDS[0][2]) if not re.search(re.escape(o) + r"(?![\w-])", section)]
    assert not missing, f"README.md's Global options leave out {missing}"


def test_the_report_schemas_id_is_the_url_it_is_published_at():
    """$id is an absolute URL (JSON Schema 2020-12, "The $id keyword"): the site's address of the file."""
    import json
    from urllib.parse import urlsplit

    from natoma_entra.manual import SITE_URL

    schema_id = json.loads((DOCS / "report.schema.json").read_text())["$id"]
    parts = urlsplit(schema_id)
    assert parts.scheme == "https" and "." in parts.hostname, schema_id
    assert schema_id == f"{SITE_URL}report.schema.json"


def test_a_real_report_has_the_schemas_properties(sandbox):
    schema = json.loads((DOCS / "report.schema.json").read_text())
    doc = sandbox.cli("--output", "json", "status").json()
    assert set(doc) == set(schema["properties"])
    step_props = set(schema["$defs"]["StepResult"]["properties"])
    assert all(set(s) == step_props for s in doc["steps"])


def test_permissions_page_tables_are_generated_from_the_table():
    text = (DOCS / "permissions.md").read_text()
    assert "<!-- GENERATED permissions-tables" in text
    assert text == generate.refreshed(text), REGENERATE


def test_every_generated_block_is_current():
    """Synopses and option tables come from the CLI, permission tables from natoma_entra/permissions.py: a page
    whose generated part differs from what the code generates now has drifted."""
    stale = [str(p.relative_to(ROOT)) for p in DOCS.rglob("*.md") if p.read_text() != generate.refreshed(p.read_text())]
    assert not stale, f"{stale}: {REGENERATE}"


@pytest.mark.parametrize("page,path,cmd", COMMANDS[1:], ids=[c[1] for c in COMMANDS[1:]])
def test_every_command_page_has_the_common_structure(page, path, cmd):
    """Synopsis (from the CLI), what it does (the portal step it replaces), options (from the CLI), examples, exit
    codes, permissions, common errors: in that order, on every command's page."""
    text = (DOCS / page).read_text()
    headings = re.findall(r"^## (.+)$", text, re.M)
    wanted = ["Synopsis", "What it does", "Options", "Examples", "Exit codes", "Permissions", "Common errors"]
    assert [h for h in headings if h in wanted] == wanted, f"docs/{page}: {headings}"
    words = path.removeprefix("natoma-entra ")
    assert f"<!-- GENERATED synopsis: {words} " in text and f"<!-- GENERATED options: {words} " in text, page
    assert "**Replaces**" in text or "**Replaces:**" in text, f"docs/{page} does not say which portal step it replaces"
    examples = text.split("\n## Examples\n", 1)[1].split("\n## ", 1)[0]
    assert "```bash" in examples and "<!-- OUTPUT" in examples, f"docs/{page}: no example with its output"


def _example_path(pattern: str) -> str:
    p = pattern.rstrip("$").replace("[^/]+", "x").replace(".*", "jobs/j/schema")
    p = re.sub(r"\(([^|)]*)[^)]*\)", r"\1", p).replace("\\(", "(")  # a literal "(": groups(uniqueName=...)
    return p[1:] if p.startswith("^") else "/servicePrincipals/s" + p


def test_every_permission_a_403_hint_names_is_on_the_permissions_page():
    import httpx

    from natoma_entra.graph.errors import from_response

    denied = b'{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges"}}'
    text = (DOCS / "permissions.md").read_text()
    named = set()
    for r in permissions.REQUESTS:
        method, path = r.method.split("|")[0], _example_path(r.path)
        assert permissions.request_for(method, path) == r, (r.key, path)
        for delegated in (False, True):
            fix = from_response(403, denied, httpx.Headers(), method, path, delegated=delegated).fix
            named.update(permissions.names(fix))
    assert {"AuditLog.Read.All", "AppRoleAssignment.ReadWrite.All", "Synchronization.ReadWrite.All"} <= named
    missing = sorted(p for p in named if p not in text)
    assert not missing, f"403 hints name {missing}, docs/permissions.md does not"


def test_docs_stand_alone():
    bad = re.compile(r"\.\./shared|design\.md|graph-api\.md|guide\.md")
    offenders = [str(p.relative_to(ROOT)) for p in [ROOT / "README.md", *DOCS.rglob("*.md")] if bad.search(p.read_text())]
    assert not offenders, f"these cite files outside the repository: {offenders}"


def test_readme_starts_with_the_fresh_machine_commands_and_the_ci_command():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert lines[4].strip() == ("python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && "
                                ".venv/bin/natoma-entra --sandbox setup")
    ci = [x for x in (ROOT / ".ci" / "run").read_text().splitlines() if x.startswith("python3 -m venv")]
    assert lines[8].strip() == ci[0].strip()
    text = "\n".join(lines)
    assert "pipx install natoma-entra" in text and "source .venv/bin/activate" in text


def test_changelog_keeps_an_unreleased_section_and_the_current_version():
    import natoma_entra

    text = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text and "keepachangelog.com" in text
    assert re.search(rf"^## \[{re.escape(natoma_entra.__version__)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", text, re.M)


COMMAND_BLOCK_WIDTH = 78  # what a code block shows at 1280 px with both sidebars: longer lines hide behind a scrollbar


def test_commands_in_code_blocks_fit_the_page():
    """A reader copies what they see: a command (or its trailing comment) past the block's width is out of sight."""
    long = []
    for page in sorted(DOCS.rglob("*.md")):
        lang = None
        for n, line in enumerate(page.read_text().splitlines(), 1):
            fence = re.match(r"\s*```(\S*)", line)
            if fence:
                lang = None if lang is not None else fence.group(1)
            elif lang in ("bash", "powershell", "yaml", "toml") and len(line.strip()) > COMMAND_BLOCK_WIDTH:
                long.append(f"{page.relative_to(ROOT)}:{n} ({len(line.strip())} characters)")
    assert not long, "lines too long to read without scrolling (break them, or put the comment above):\n" + \
        "\n".join(long)


def _documented_command_lines():
    """(page, line) of every `natoma-entra ...` command in the docs' bash blocks (continuation lines joined)."""
    for page in sorted(DOCS.rglob("*.md")):
        lang, current = None, ""
        for line in page.read_text().splitlines():
            fence = re.match(r"\s*```(\S*)", line)
            if fence:
                lang, current = (None if lang is not None else fence.group(1)), ""
                continue
            if lang != "bash":
                continue
            current += line.strip().removesuffix("\\") + " "
            if line.rstrip().endswith("\\"):
                continue
            command, current = current.split(" #", 1)[0].strip(), ""
            found = re.search(r"(?:^|[;&|(]\s*|=\S*\s+)(natoma-entra\s.*)", command)
            if found:
                yield page.relative_to(ROOT), found.group(1).split(" | ")[0].split(" && ")[0].split(";")[0]


def test_every_documented_command_line_uses_options_the_cli_has():
    """An example that names a renamed or removed option (or command) would fail for the reader who copies it."""
    import shlex

    from natoma_entra.cli.main import VALUE_OPTIONS

    root = _cli()
    global_opts = {o for p in root.params for o in p.opts + p.secondary_opts}
    checked, bad = 0, []
    for page, line in _documented_command_lines():
        words = shlex.split(line)[1:]
        cmd, path, opts, i = root, [], set(global_opts), 0
        while i < len(words):
            w = words[i]
            name = w.split("=", 1)[0]
            if name in VALUE_OPTIONS and "=" not in w:
                i += 2
                continue
            if not w.startswith("-") and hasattr(cmd, "commands"):
                if w not in cmd.commands:
                    bad.append(f"{page}: {line!r}: no command {' '.join(path + [w])!r}")
                    break
                cmd = cmd.commands[w]
                path.append(w)
                opts |= {o for p in cmd.params for o in p.opts + p.secondary_opts}
            elif w.startswith("-") and name not in opts | {"--help", "-h"}:
                bad.append(f"{page}: {line!r}: natoma-entra {' '.join(path)} has no option {name}")
            i += 1
        checked += 1
    assert checked > 60  # the scan finds the examples
    assert not bad, "\n".join(bad)
