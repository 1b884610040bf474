"""`natoma-entra docs [TOPIC]`: the documentation shipped in the package, where only the CLI is installed (pipx, a CI
image). The pages come from docs/ (natoma_entra/manual); at a terminal they are rendered, in a pipe they stay plain
Markdown, which reads as text and greps."""
from __future__ import annotations

import json
from typing import Any, Optional

import typer

from .main import app


@app.command("docs")
def docs_command(
    ctx: typer.Context,
    topic: Optional[str] = typer.Argument(None, metavar="[TOPIC]", show_default=False,
                                          help="A topic: a command (setup, provision, ...) or a guide (auth, "
                                               "permissions, troubleshooting, ...). Without one: the list."),
) -> None:
    """Read the documentation here, without a browser or the repository: one page per command and per guide.

    Without TOPIC it lists the topics. At a terminal the page is rendered; piped or redirected it is plain Markdown
    (`natoma-entra docs permissions | grep Synchronization`). With -o json: {"topic", "title", "url", "markdown"}, or
    the list. The same pages are on the docs site (the URL is printed with each page).

    Example: natoma-entra docs auth
    Example: natoma-entra docs troubleshooting | less
    """
    from .. import manual
    from ..graph.errors import UsageError

    g = ctx.obj
    if topic is None:
        _list(g, manual)
        return
    try:
        found = manual.find(topic)
    except manual.UnknownTopic:
        raise UsageError(f"unknown docs topic {topic!r}",
                         fix=f"use one of: {', '.join(t.name for t in manual.TOPICS)}") from None
    text = manual.page(found)
    if g.output.value == "json":
        typer.echo(json.dumps({"command": "docs", "ok": True, "topic": found.name, "title": found.title,
                               "url": manual.url(found), "markdown": text}, indent=2))
        return
    if g.out.is_terminal:
        from rich.console import Console
        from rich.markdown import Markdown

        # its own console: the data console does not wrap (soft_wrap keeps ids whole), a page must
        console = Console(file=g.out.file, highlight=False)
        console.print(Markdown(text, code_theme="ansi_dark", hyperlinks=True))
        console.print(f"\nOnline: {manual.url(found)}", style="dim")
    else:
        g.out.file.write(text.rstrip("\n") + f"\n\nOnline: {manual.url(found)}\n")


def _list(g: Any, manual: Any) -> None:
    """The topics, guides first, then the commands, each with its one-line summary."""
    if g.output.value == "json":
        typer.echo(json.dumps({"command": "docs", "ok": True, "site": manual.SITE_URL,
                               "topics": [{"topic": t.name, "kind": t.kind, "title": t.title, "summary": t.summary}
                                          for t in manual.TOPICS]}, indent=2))
        return
    width = max(len(t.name) for t in manual.TOPICS)
    lines = ["Read a page with: natoma-entra docs TOPIC", ""]
    for kind, heading in (("guide", "Guides"), ("command", "Commands")):
        lines.append(f"{heading}:")
        lines += [f"  {t.name:<{width}}  {t.summary}" for t in manual.TOPICS if t.kind == kind]
        lines.append("")
    lines.append(f"Online: {manual.SITE_URL}")
    g.out.file.write("\n".join(lines) + "\n")
