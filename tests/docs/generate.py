"""Regenerate the docs' generated parts: `python tests/docs/generate.py`.

- docs/report.schema.json: the JSON Schema of the report (`natoma_entra.results.Report`).
- docs/plan.schema.json: the JSON Schema of a saved plan (`natoma_entra.plan_file.SavedPlan`, what --plan-out writes).
- In docs/*.md, every block between `<!-- GENERATED KIND: ARG ... -->` and `<!-- GENERATED END -->`:
  `synopsis: CMD` and `options: CMD` from the CLI itself (what `natoma-entra CMD --help` shows; `options: global` for
  the global options), `permissions: CMD` and `permissions-tables` from natoma_entra/permissions.py.
- natoma_entra/manual/pages/*.md and index.py: the pages `natoma-entra docs TOPIC` prints, made from docs/ (site-only
  syntax turned into plain Markdown, links to other pages into `natoma-entra docs TOPIC`).

tests/docs/test_docs.py and test_manual.py fail when any of them is out of date.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SCHEMA = DOCS / "report.schema.json"
PLAN_SCHEMA = DOCS / "plan.schema.json"
MANUAL = ROOT / "natoma_entra" / "manual"
PAGES = MANUAL / "pages"
INDEX = MANUAL / "index.py"

# The guides shipped with the package besides one page per command (`natoma-entra docs TOPIC`), in the order the
# topic list shows them. The home page, performance and dev/ stay on the site only.
GUIDES = ("getting-started", "first-run", "configuration", "auth", "permissions", "ci", "security", "troubleshooting",
          "report", "graph-assumptions")

BLOCK = re.compile(r"<!-- GENERATED (?P<kind>[\w-]+)(?::\s*(?P<arg>[^(>]*?))?\s*(?:\([^)]*\))?\s*-->\n"
                   r"(?P<body>.*?)<!-- GENERATED END -->", re.S)
SYNOPSIS_WIDTH = 76  # what a code block shows at 1280 px (test_docs.py: COMMAND_BLOCK_WIDTH)


# -- the CLI --------------------------------------------------------------------------------------------------------

def cli() -> Any:
    """The Click command `natoma-entra` runs (the one --help renders)."""
    from natoma_entra.cli.main import _click_command

    return _click_command()


def commands() -> Iterator[tuple[str, Any]]:
    """(command path, Click command) for every command and sub-command, in the CLI's order."""
    for name, cmd in cli().commands.items():
        if hasattr(cmd, "commands"):
            for sub_name, sub in cmd.commands.items():
                yield f"{name} {sub_name}", sub
        else:
            yield name, cmd


def command(path: str) -> Any:
    if path == "global":
        return cli()
    cmd = cli()
    for word in path.split():
        cmd = cmd.commands[word]
    return cmd


def _options(cmd: Any) -> list[Any]:
    return [p for p in cmd.params if p.param_type_name == "option" and not getattr(p, "hidden", False)]


def _help_record(cmd: Any, param: Any) -> tuple[str, str]:
    record = param.get_help_record(cmd.context_class(cmd, info_name=cmd.name))
    assert record is not None, param.name
    return record


def _metavar(cmd: Any, param: Any) -> str:
    """The value an option takes, as --help shows it ("ROLE=GROUP", "<text|json>"); "" for a flag."""
    names = set(param.opts) | set(param.secondary_opts)
    words = _help_record(cmd, param)[0].replace(",", " ").split()
    return " ".join(w for w in words if w not in names and w != "/")


def _argument(param: Any) -> str:
    name = (param.metavar or param.name.upper()).strip("[]").replace("]...", "").replace("...", "").strip("[]")
    text = f"{name} ..." if param.nargs == -1 else name
    return text if param.required else f"[{text}]"


def synopsis(path: str) -> str:
    cmd = command(path)
    parts = [_argument(p) for p in cmd.params if p.param_type_name == "argument"]
    for p in _options(cmd):
        if p.secondary_opts:
            parts.append(f"[{' | '.join(p.opts + p.secondary_opts)}]")
            continue
        name = max(p.opts, key=len)
        value = _metavar(cmd, p)
        parts.append(f"[{name}{' ' + value if value else ''}{' ...' if p.multiple else ''}]")
    parts.append("[global options]")
    head = f"natoma-entra {path} "
    lines = [""]
    for part in parts:  # wrapped between parts, never inside one ("[--group ROLE=GROUP ...]")
        if lines[-1] and len(head) + len(lines[-1]) + 1 + len(part) > SYNOPSIS_WIDTH:
            lines.append("")
        lines[-1] = f"{lines[-1]} {part}".strip()
    body = ("\n" + " " * len(head)).join(lines)
    return f"```text\n{head}{body}\n```\n"


def _cell(text: str) -> str:
    """Text for a Markdown table cell: pipes escaped, < as an entity (else `<upn>` is taken for an HTML tag)."""
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;")


def options(path: str) -> str:
    cmd = command(path)
    args = [p for p in cmd.params if p.param_type_name == "argument"]
    opts = _options(cmd)
    if not args and not opts:
        return "It has no options of its own.\n"
    lines = ["| option | meaning |", "|---|---|"]
    for p in args:
        help_text = getattr(p, "help", None) or ""
        lines.append(f"| `{_argument(p)}` | {_cell(help_text)} |")
    for p in opts:
        names, help_text = _help_record(cmd, p)
        lines.append(f"| `{names.replace('|', chr(92) + '|')}` | {_cell(help_text)} |")
    return "\n".join(lines) + "\n"


# -- permissions -------------------------------------------------------------------------------------------------

def command_permissions(name: str) -> str:
    from natoma_entra import permissions

    needs = permissions.for_command(name)
    roles = " or ".join(needs["roles"]) or "none: any member user"
    lines = ["| signed in | permissions (all of them) | Entra role |", "|---|---|---|",
             f"| as an app (`client-secret`, `certificate`, `managed-identity`, `workload-identity`) | "
             f"{', '.join(needs['application'])} | not needed |",
             f"| as a user (`cli`, `device-code`, `browser`) | {', '.join(needs['delegated'])} | {roles} |", "",
             "| request | Microsoft Graph reference page | application permission |", "|---|---|---|"]
    for key in permissions.COMMANDS[name]:
        r = permissions.BY_KEY[key]
        method = r.method.replace("|", " ")
        lines.append(f"| `{method} {permissions.show_path(r.path)}` | {r.page} | {_cell(r.hint)} |")
    return "\n".join(lines) + "\n"


def permissions_tables(_arg: str | None = None) -> str:
    from natoma_entra.permissions import markdown

    return markdown()


GENERATORS: dict[str, Callable[[str], str]] = {
    "synopsis": synopsis, "options": options, "permissions": command_permissions,
    "permissions-tables": permissions_tables,
}


def refreshed(text: str) -> str:
    """The page with every GENERATED block made afresh."""
    def block(m: re.Match) -> str:
        kind, arg = m.group("kind"), (m.group("arg") or "").strip()
        body = GENERATORS[kind](arg)
        return m.group(0)[: m.start("body") - m.start(0)] + f"\n{body}\n" + "<!-- GENERATED END -->"

    return BLOCK.sub(block, text)


def report_schema() -> str:
    from natoma_entra.manual import SITE_URL
    from natoma_entra.results import Report

    schema = Report.model_json_schema()
    # $id: where the schema is published (the docs site serves docs/report.schema.json at its root), an absolute URL
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "$id": f"{SITE_URL}report.schema.json",
              "title": "natoma-entra report", **{k: v for k, v in schema.items() if k != "title"}}
    return json.dumps(schema, indent=2, sort_keys=False) + "\n"


def plan_schema() -> str:
    from natoma_entra.plan_file import schema

    return json.dumps(schema(), indent=2, sort_keys=False) + "\n"


# -- the pages shipped in the package -------------------------------------------------------------------------------

FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n+", re.S)


def front_matter(text: str) -> dict[str, str]:
    m = FRONT_MATTER.match(text)
    if not m:
        return {}
    return dict((k.strip(), v.strip().strip('"')) for k, _, v in
                (line.partition(":") for line in m.group(1).splitlines()) if v)


def nav_pages() -> list[str]:
    """The pages of mkdocs.yml's nav, in its order (docs/ relative paths)."""
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8").split("\nnav:\n", 1)[1]
    return re.findall(r"^\s*- (?:[^:\n]+: )?([\w/.-]+\.md)\s*$", nav, re.M)


def topics() -> list[tuple[str, str, str, str]]:
    """(name, kind, title, summary) of every page shipped: the guides, then each command's page in the nav's order."""
    found = [(name, "guide") for name in GUIDES]
    names = list(dict.fromkeys(path.split()[0] for path, _ in commands()))
    order = {page[:-3]: i for i, page in enumerate(nav_pages())}
    found += [(name, "command") for name in sorted(names, key=lambda n: order.get(n, len(order)))]
    out = []
    for name, kind in found:
        text = (DOCS / f"{name}.md").read_text(encoding="utf-8")
        summary = front_matter(text).get("description")
        assert summary, f"docs/{name}.md has no `description:` in its front matter (the topic list shows it)"
        if kind == "command":  # "provision (step 5): provision users ..." -> "provision users ..."
            summary = re.sub(rf"^{re.escape(name)}\b[^:]*: ", "", summary)
            summary = summary[:1].upper() + summary[1:]
        title = re.search(r"^# (.+)$", text, re.M)
        assert title, f"docs/{name}.md has no title"
        out.append((name, kind, title.group(1).replace("`", "").strip(), summary))
    return out


ADMONITION = re.compile(r'^(?P<indent> *)(?:!!!|\?\?\?\+?) (?P<kind>\w+)(?: "(?P<title>[^"]*)")?\s*$')
TAB = re.compile(r'^(?P<indent> *)===\+? "(?P<label>[^"]*)"\s*$')
FENCE_TITLE = re.compile(r'^(?P<indent> *)```(?P<lang>[\w-]*)\s+title="(?P<title>[^"]*)"\s*$')
LINK = re.compile(r"\[(?P<text>[^\]]+)\]\((?P<href>[^)\s]+)\)")


def _indented_block(lines: list[str], start: int, indent: int) -> tuple[list[str], int]:
    """The lines after `start` indented by at least `indent` (blank lines inside included), dedented."""
    body, i = [], start
    while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" " * indent)):
        body.append(lines[i][indent:])
        i += 1
    while body and not body[-1].strip():
        body.pop()
        i -= 1
    return body, i


def _tabs_holding_tabs(lines: list[str]) -> set[int]:
    """The line numbers of the top-level tabs of every tab group in which some tab holds tabs of its own."""
    found: set[int] = set()
    group: list[int] = []
    nested = False
    i = 0
    while i <= len(lines):
        m = TAB.match(lines[i]) if i < len(lines) else None
        if m and not m.group("indent"):
            body, end = _indented_block(lines, i + 1, 4)
            group.append(i)
            nested = nested or any(TAB.match(b) for b in body)
            i = end
            while i < len(lines) and not lines[i].strip():
                i += 1
            continue
        if group and nested:
            found.update(group)
        group, nested = [], False
        i += 1
    return found


def _plain_blocks(lines: list[str]) -> list[str]:
    """Admonitions as quoted notes; content tabs as labelled sections (headings when a tab of the group holds tabs of
    its own, as auth's sign-in modes hold bash and PowerShell); code titles as a line before the code."""
    out: list[str] = []
    as_heading = _tabs_holding_tabs(lines)
    level, in_code, i = 1, False, 0
    while i < len(lines):
        line = lines[i]
        m = None if in_code else (ADMONITION.match(line) or TAB.match(line))
        if m:
            start = i
            indent = len(m.group("indent"))
            body, i = _indented_block(lines, i + 1, indent + 4)
            body = _plain_blocks(body)
            pad = " " * indent
            if "kind" in m.groupdict():
                title = m.group("title") or m.group("kind").capitalize()
                out += [f"{pad}> **{title}:**", f"{pad}>"] + [f"{pad}> {b}".rstrip() for b in body]
            elif start in as_heading:
                out += [f"{'#' * min(level + 1, 6)} {m.group('label')}", ""] + body
            else:
                out += [f"{pad}**{m.group('label')}:**", ""] + [f"{pad}{b}".rstrip() for b in body]
            continue
        fence = None if in_code else FENCE_TITLE.match(line)
        if line.lstrip().startswith("```"):
            in_code = not in_code
        heading = None if in_code else re.match(r"(#+) ", line)
        if heading:
            level = len(heading.group(1))
        if fence:
            pad = fence.group("indent")
            out += [f"{pad}{fence.group('title')}:", "", f"{pad}```{fence.group('lang')}"]
        elif in_code or not re.fullmatch(r"\s*<!--.*-->\s*", line):
            out.append(line)
        i += 1
    return out


def _plain_link(m: re.Match, shipped: set[str]) -> str:
    from natoma_entra.manual import SITE_URL

    text, href = m.group("text"), m.group("href")
    if re.match(r"[a-z]+:", href):
        return m.group(0)
    path, _, anchor = href.partition("#")
    if not path:
        return text  # a section of the same page
    stem = path[:-3] if path.endswith(".md") else path
    if stem in shipped:
        if text.strip("`").split()[0] == stem:  # the text names the topic already: `start --wait`, app create
            return text
        return f"{text} (`natoma-entra docs {stem}`)"
    target = SITE_URL + (f"{stem}/" if path.endswith(".md") else path) + (f"#{anchor}" if anchor else "")
    return f"[{text}]({target})"


def plain_page(text: str, shipped: set[str]) -> str:
    """A docs/ page as `natoma-entra docs` prints it: Markdown without the site's extensions, which reads as text."""
    text = FRONT_MATTER.sub("", text)
    lines = _plain_blocks(text.splitlines())
    out, in_code = [], False
    for line in lines:
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif not in_code:
            line = LINK.sub(lambda m: _plain_link(m, shipped), line)
            line = line.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        out.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n") + "\n"


def manual() -> dict[str, str]:
    """File name -> text of everything natoma_entra/manual holds that is generated."""
    found = topics()
    shipped = {name for name, *_ in found}
    files = {f"pages/{name}.md": plain_page((DOCS / f"{name}.md").read_text(encoding="utf-8"), shipped)
             for name in shipped}
    rows = "\n".join(f"    {t!r}," for t in found)
    files["index.py"] = (
        '"""The topics of `natoma-entra docs`: (name, kind, title, summary). Generated from docs/ by\n'
        'tests/docs/generate.py: do not edit."""\n\n'
        f"TOPICS: tuple[tuple[str, str, str, str], ...] = (\n{rows}\n)\n")
    return files


def main() -> int:
    sys.path.insert(0, str(ROOT))
    SCHEMA.write_text(report_schema())
    PLAN_SCHEMA.write_text(plan_schema())
    changed = []
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        new = refreshed(text)
        if new != text:
            page.write_text(new, encoding="utf-8")
            changed.append(str(page.relative_to(ROOT)))
    files = manual()
    for old in PAGES.glob("*.md"):
        if f"pages/{old.name}" not in files:
            old.unlink()
    PAGES.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (MANUAL / name).write_text(text, encoding="utf-8")
    print(f"wrote {SCHEMA.relative_to(ROOT)}, {PLAN_SCHEMA.relative_to(ROOT)}, {len(files)} files in {MANUAL.relative_to(ROOT)}; "
          f"refreshed: {', '.join(changed) or 'nothing'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
