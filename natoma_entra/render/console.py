"""The consoles a run prints on, built once by the Application."""
from __future__ import annotations

import os


def make_console(*, stderr: bool = False, file=None):
    """A rich Console. Off a terminal (CI logs, `| cat`) a line is as long as its content needs ($COLUMNS caps it),
    so a table never cuts a value nor breaks an id or a UPN; at a terminal, tables fold long values instead of
    cutting them to `...`. Markup and emoji codes are off: a string printed is shown as it is, so a name such as
    `[link=...]x[/]` or `:warning:` from the tenant is never interpreted (styles are given as rich Text's style)."""
    from rich.console import Console

    console = Console(stderr=stderr, file=file, soft_wrap=True, highlight=False, markup=False, emoji=False)
    if not console.is_terminal:
        width = _int(os.environ.get("COLUMNS")) or UNBOUNDED
        console = Console(stderr=stderr, file=file, soft_wrap=True, width=width, highlight=False, markup=False,
                          emoji=False)
    return console


UNBOUNDED = 1000  # tables take only the width their content needs


def _int(value: str | None) -> int:
    try:
        return max(40, int(value or 0)) if value else 0
    except ValueError:
        return 0


def table(*columns: str, **kw):
    """A rich Table whose columns wrap (fold) long values instead of cutting them."""
    from rich.table import Table

    t = Table(**kw)
    for c in columns:
        t.add_column(c, overflow="fold")
    return t
