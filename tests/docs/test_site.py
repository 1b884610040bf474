"""The docs site as a reader gets it: built once (mkdocs build --strict), then its HTML is checked for what a
Markdown slip produces silently: a list swallowed into a paragraph, a code block without a language, a `<placeholder>`
taken for an HTML tag, a page missing from the navigation, a link or anchor that leads nowhere, a command missing from
the home page's command table (and from the README's)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

# The elements the site's pages are made of (HTML and the inline SVG of Material's icons). Anything else in a page
# is text that Markdown passed through as a tag: `interrupted during <step>` shows "interrupted during :".
ELEMENTS = set("""a abbr article aside b blockquote body br button caption code col colgroup dd del details div dl dt em
figcaption figure footer form h1 h2 h3 h4 h5 h6 head header hr html i img input ins kbd label li link main mark meta
nav noscript ol p path pre script section small span strong style sub summary sup svg table tbody td tfoot th thead
title tr u ul var g circle rect polygon use symbol defs""".split())
LIST_IN_TEXT = re.compile(r"\n[ \t]*(?:[-*+]|\d+\.)[ \t]+\S")  # what Markdown takes for a list item


class Page(HTMLParser):
    """What the checks need from one HTML page."""

    def __init__(self, url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.url = url
        self.tags: set[str] = set()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.nav_links: list[str] = []
        self.paragraphs: list[str] = []  # the text of each <p> and <li> of the article (a nested item is its own)
        self.code_classes: list[str] = []  # the class of each highlighted block's container
        self.tables: list[list[list[str]]] = []  # the article's tables: rows of cells' text
        self._stack: list[str] = []
        self._text: list[list[str]] = []
        self._in_article = 0
        self._nav_depth = 0
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])
        if tag in ("br", "input", "img", "meta", "link", "hr", "col", "path", "use"):
            return  # void elements (and the SVG leaves Material writes unclosed)
        self._stack.append(tag)
        if tag == "article":
            self._in_article += 1
        if tag == "nav" and "md-nav--primary" in a.get("class", ""):
            self._nav_depth = len(self._stack)
        if tag == "a" and a.get("href") is not None:
            self.links.append(a["href"])
            if self._nav_depth:
                self.nav_links.append(a["href"])
        if not self._in_article:
            return
        if tag == "div" and "highlight" in a.get("class", "").split():
            self.code_classes.append(a["class"])
        if tag in ("p", "li"):
            self._text.append([])
        if tag == "table":
            self._table = []
        if tag == "tr" and self._table is not None:
            self._table.append([])
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag not in self._stack:
            return
        while self._stack:
            top = self._stack.pop()
            self._close(top)
            if top == tag:
                break

    def _close(self, tag: str) -> None:
        if tag == "nav" and self._nav_depth and len(self._stack) < self._nav_depth:
            self._nav_depth = 0
        if tag == "article":
            self._in_article -= 1
        if not self._in_article and tag != "article":
            return
        if tag in ("p", "li") and self._text:
            self.paragraphs.append("".join(self._text.pop()))
        if tag in ("td", "th") and self._cell is not None and self._table:
            self._table[-1].append("".join(self._cell).strip())
            self._cell = None
        if tag == "table" and self._table is not None:
            self.tables.append(self._table)
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._in_article and self._text:  # the innermost <p> or <li>: a nested list's items have their own
            self._text[-1].append("`code`" if "code" in self._stack else data)  # a list marker is never in code
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built once for this module with --strict (a warning fails the build)."""
    out = tmp_path_factory.mktemp("site")
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-f", str(ROOT / "mkdocs.yml"),
                        "-d", str(out)], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def pages(site: Path) -> dict[str, Page]:
    """Every page of the site by its URL path ("", "setup/", ...), parsed."""
    found = {}
    for f in sorted(site.rglob("index.html")):
        url = f.parent.relative_to(site).as_posix()
        url = "" if url == "." else url + "/"
        page = Page(url)
        page.feed(f.read_text(encoding="utf-8"))
        found[url] = page
    return found


def test_the_site_builds_strict_with_the_reports_schema_and_names_its_version(site, pages):
    import natoma_entra

    assert (site / "index.html").is_file() and (site / "report.schema.json").is_file()
    assert f"natoma-entra {natoma_entra.__version__}" in (site / "index.html").read_text(encoding="utf-8")
    sources = {p.relative_to(DOCS).with_suffix("").as_posix() for p in DOCS.rglob("*.md")}
    built = {u.rstrip("/").removesuffix("index").rstrip("/") for u in pages}
    assert {s.removesuffix("index").rstrip("/") for s in sources} <= built


def test_no_list_is_swallowed_into_a_paragraph(pages):
    swallowed = [f"{url or '/'}: {text.strip()[:90]!r}" for url, page in pages.items() for text in page.paragraphs
                 if LIST_IN_TEXT.search(text)]
    assert not swallowed, "lists written right after a line of text (add a blank line before the list):\n" + \
        "\n".join(swallowed)


def test_every_code_block_names_its_language(pages):
    counted = sum(len(p.code_classes) for p in pages.values())
    assert counted > 50  # the check sees the blocks
    bare = [f"{url or '/'}: block {i + 1}" for url, page in pages.items() for i, c in enumerate(page.code_classes)
            if "language-output" in c.split() or not any(k.startswith("language-") for k in c.split())]
    assert not bare, "code blocks without a language (```bash, ```text, ...):\n" + "\n".join(bare)


def test_no_placeholder_is_taken_for_an_html_tag(pages):
    eaten = {url or "/": sorted(page.tags - ELEMENTS) for url, page in pages.items() if page.tags - ELEMENTS}
    assert not eaten, f"<word> written outside code is read as an HTML tag and disappears: {eaten}"


def test_every_page_is_in_the_navigation(pages):
    home = pages[""]
    in_nav = {urlparse(urljoin("http://site/", h)).path.lstrip("/") for h in home.nav_links}
    missing = sorted(url for url in pages if url not in in_nav and url != "search/")
    assert not missing, f"pages missing from mkdocs.yml's nav: {missing}"


def test_every_internal_link_and_anchor_leads_somewhere(site, pages):
    broken = []
    for url, page in pages.items():
        for href in page.links:
            target = urlparse(urljoin(f"http://site/{url}", href))
            if target.netloc != "site" or href.startswith(("http:", "https:", "mailto:")):
                continue
            path = unquote(target.path).lstrip("/")
            if path == "" or path.endswith("/"):
                other = pages.get(path)
                if other is None:
                    broken.append(f"{url or '/'} -> {href} (no such page)")
                elif target.fragment and target.fragment not in other.ids:
                    broken.append(f"{url or '/'} -> {href} (no such anchor)")
            elif not (site / path).is_file():
                broken.append(f"{url or '/'} -> {href} (no such file)")
    assert not broken, "\n".join(broken)


def _top_level_commands() -> set[str]:
    sys.path.insert(0, str(Path(__file__).parent))
    import generate

    return set(generate.cli().commands)


def _first_words(cells: list[str]) -> set[str]:
    return {c.strip("` ").split()[0] for c in cells if c.strip("` ")}


def test_the_home_pages_command_table_lists_every_command(pages):
    tables = [t for t in pages[""].tables if t and t[0] and t[0][0] == "command"]
    assert tables, "the home page has no table whose first column is 'command'"
    listed = _first_words([row[0] for row in tables[0][1:] if row])
    missing = sorted(_top_level_commands() - listed)
    assert not missing, f"docs/index.md's command table leaves out {missing}"


def test_the_readmes_command_table_lists_every_command_with_its_page():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    rows = [r for r in section.splitlines() if r.startswith("| `")]
    listed = _first_words([r.split("|")[1] for r in rows])
    missing = sorted(_top_level_commands() - listed)
    assert not missing, f"README.md's command table leaves out {missing}"
    for row in rows:
        name = row.split("|")[1].strip("` ").split()[0]
        assert f"({name}.md)" in row or f"/{name}/)" in row, f"README's row for {name} does not link its page"
