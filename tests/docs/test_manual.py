"""`natoma-entra docs [TOPIC]`: the pages shipped in the package are the ones docs/ generates; the command lists them,
prints one plain in a pipe and rendered at a terminal, and refuses an unknown topic in one line; the CLI's messages
point at `natoma-entra docs TOPIC` and the site, never at a path in the repository; the docs URL is one."""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest
from source_scan import package_files, parsed

from natoma_entra import manual

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))
import generate  # noqa: E402

REGENERATE = "run `python tests/docs/generate.py` and commit the result"


def _docs(capsys, *args: str) -> tuple[int, str, str]:
    from natoma_entra.cli.main import run

    capsys.readouterr()
    try:
        run(["docs", *args])
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_the_packaged_pages_are_generated_from_docs():
    wanted = generate.manual()
    present = {f"pages/{p.name}" for p in (generate.MANUAL / "pages").glob("*.md")} | {"index.py"}
    assert present == set(wanted), f"natoma_entra/manual holds {sorted(present ^ set(wanted))} apart: {REGENERATE}"
    stale = [name for name, text in wanted.items() if (generate.MANUAL / name).read_text(encoding="utf-8") != text]
    assert not stale, f"natoma_entra/manual/{stale} differ from docs/: {REGENERATE}"


def test_every_command_and_the_guides_have_a_topic():
    names = {t.name for t in manual.TOPICS}
    commands = set(generate.cli().commands)
    assert commands <= names, f"commands without a page in the package: {sorted(commands - names)}"
    assert {"auth", "permissions", "troubleshooting", "graph-assumptions", "configuration", "getting-started",
            "ci"} <= names
    assert all(t.summary and t.title for t in manual.TOPICS)


def test_the_packaged_pages_carry_no_site_only_syntax():
    """Admonitions, content tabs, code titles, comments and links to .md files are the site's: in the package a note
    is a quote, a tab a labelled section, a link to another page `natoma-entra docs TOPIC`."""
    shipped = {t.name for t in manual.TOPICS}
    for topic in manual.TOPICS:
        text = manual.page(topic)
        assert text.startswith("# "), topic.name
        for bad in (r"^\s*!!! ", r"^\s*=== \"", r"```\w+ title=", "<!--", r"\]\([^)]*\.md\b", "&lt;"):
            assert not re.search(bad, text, re.M), f"{topic.name}: {bad!r}"
        for named in re.findall(r"natoma-entra docs ([a-z-]+)`", text):
            assert named in shipped, f"{topic.name} points at `natoma-entra docs {named}`, which is no topic"
    # the conversions happened: auth's tabs became sections, setup's note a quote, links topics
    assert "### client-secret" in manual.page(manual.find("auth"))
    assert "> **Interrupted?:**" in manual.page(manual.find("setup"))
    assert "(`natoma-entra docs permissions`)" in manual.page(manual.find("auth"))


def test_docs_without_a_topic_lists_every_topic(capsys):
    code, out, err = _docs(capsys)
    assert code == 0 and err == ""
    listed = re.findall(r"^  ([a-z-]+)  ", out, re.M)
    assert listed == [t.name for t in manual.TOPICS if t.kind == "guide"] + \
        [t.name for t in manual.TOPICS if t.kind == "command"]
    assert manual.SITE_URL in out


def test_docs_topic_in_a_pipe_is_the_plain_page(capsys):
    code, out, err = _docs(capsys, "auth")
    assert code == 0 and err == ""
    topic = manual.find("auth")
    assert out == manual.page(topic).rstrip("\n") + f"\n\nOnline: {manual.SITE_URL}auth/\n"
    assert "\x1b[" not in out


def test_docs_topic_at_a_terminal_is_rendered(capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich takes the output for a terminal
    monkeypatch.setenv("COLUMNS", "100")
    code, out, err = _docs(capsys, "Graph assumptions")  # case and spaces do not matter
    assert code == 0 and err == ""
    assert "\x1b[" in out  # styled
    assert "What Microsoft Graph leaves open" in out
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert not re.search(r"^#+ |^```|\|---", plain, re.M)  # headings, code fences and tables are rendered
    assert max(len(line) for line in plain.splitlines()) <= 100  # wrapped to the terminal


def test_a_command_is_found_as_typed(capsys):
    assert manual.find("app create").name == "app"
    assert manual.find("natoma-entra config init").name == "config"
    code, out, _ = _docs(capsys, "config", "--output", "json")
    import json

    doc = json.loads(out)
    assert code == 0 and doc["topic"] == "config" and doc["markdown"] == manual.page(manual.find("config"))


def test_an_unknown_topic_is_one_line_naming_the_known_ones(capsys):
    code, out, err = _docs(capsys, "permisions")
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1, err
    assert "permisions" in err and all(t.name in err for t in manual.TOPICS)


# -- where the messages send the reader ------------------------------------------------------------------------------

REPOSITORY_PATH = re.compile(r"(?<![\w./-])(?:docs|examples|tests|benchmarks)/[\w./-]+|(?<![\w/-])[\w-]+\.md\b|README")


def _user_facing_strings(path: Path) -> list[tuple[int, str]]:
    """The strings a user can see: every string in the code except docstrings, which are for readers of the code,
    and with the docstrings of the CLI's commands, which are their --help."""
    tree = parsed(path)
    docstrings: set[int] = set()
    help_docstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                command = isinstance(node, ast.FunctionDef) and any(
                    "command" in ast.unparse(d) for d in node.decorator_list)
                (help_docstrings if command else docstrings).add(id(first.value))
    parts = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
    skip = docstrings | parts
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):  # an f-string: its text with the values left out
            text = "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values)
            found.append((node.lineno, text))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            found.append((node.lineno, node.value))
    return found


def test_no_message_names_a_path_in_the_repository():
    """Whoever installed the wheel has no docs/ or examples/: messages name `natoma-entra docs TOPIC` and the site."""
    offenders = []
    named_topics = set()
    for path in package_files():
        if path.parent.name == "manual":
            continue  # the pages themselves
        for line, text in _user_facing_strings(path):
            bad = REPOSITORY_PATH.search(text)
            if bad:
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {bad.group(0)!r}")
            named_topics.update(re.findall(r"natoma-entra docs ([a-z-]+)", text))
            for url in re.findall(re.escape(manual.SITE_URL) + r"[\w#/-]*", text):
                page = url.removeprefix(manual.SITE_URL).split("#")[0].strip("/")
                assert page in {t.name for t in manual.TOPICS}, f"{path.name}:{line} links {url}: no such page"
    assert not offenders, "messages that name a path in the repository:\n" + "\n".join(offenders)
    # the hints that used to name docs/*.md name topics now, and only topics that exist
    assert {"auth", "permissions", "graph-assumptions", "configuration"} <= named_topics
    assert named_topics <= {t.name for t in manual.TOPICS}, named_topics


def test_the_scan_sees_a_repository_path_in_a_message_and_in_help(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('"""Module docs may cite docs/dev/architecture.md."""\n'
                      'def f():\n    """docs/x.md in a docstring is for readers of the code."""\n'
                      '    raise E("no", fix=f"see {1} docs/auth.md")\n'
                      '@app.command("x")\ndef cmd():\n    """Help: see examples/natoma-entra.toml."""\n')
    texts = [t for _, t in _user_facing_strings(sample)]
    assert sorted(t for t in texts if REPOSITORY_PATH.search(t)) == ["Help: see examples/natoma-entra.toml.", "see {} docs/auth.md"]


def test_a_403_hint_names_the_topic_and_the_page_on_the_site():
    import httpx

    from natoma_entra.graph.errors import from_response

    denied = b'{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges"}}'
    for delegated in (False, True):
        fix = from_response(403, denied, httpx.Headers(), "PATCH", "/applications/x", delegated=delegated).fix or ""
        assert "natoma-entra docs permissions" in fix and f"{manual.SITE_URL}permissions/" in fix, fix


def test_the_docs_url_is_one():
    mkdocs = re.search(r"^site_url:\s*(\S+)", (ROOT / "mkdocs.yml").read_text(), re.M)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert mkdocs and mkdocs.group(1) == manual.SITE_URL
    assert project["urls"]["Documentation"] == manual.SITE_URL
    repo = re.search(r"^repo_url:\s*(\S+)", (ROOT / "mkdocs.yml").read_text(), re.M)
    assert repo and project["urls"]["Source"] == repo.group(1)


@pytest.mark.parametrize("topic", ["auth", "permissions", "troubleshooting", "graph-assumptions", "configuration"])
def test_the_named_guides_read_as_the_site_does(topic):
    """The page in the package says what the site's page says: the same headings, in the same order."""
    site = (generate.DOCS / f"{topic}.md").read_text(encoding="utf-8")
    shipped = manual.page(manual.find(topic))
    wanted = [h for h in re.findall(r"^(#{1,3} .+)$", site, re.M)]
    assert [h for h in re.findall(r"^(#{1,3} .+)$", shipped, re.M) if h in wanted] == wanted
