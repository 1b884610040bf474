"""The consoles a run prints on, built once by the Application."""
from __future__ import annotations

import os
import shutil


def make_console(*, stderr: bool = False, file=None):
    """A rich Console. Off a terminal (CI logs, `| cat`) it is as wide as $COLUMNS or 160, and tables fold long
    values rather than cut them, so a value is never shown as `...`."""
    from rich.console import Console

    console = Console(stderr=stderr, file=file, highlight=False, soft_wrap=True)
    if not console.is_terminal:
        width = int(os.environ.get("COLUMNS") or 0) or max(160, shutil.get_terminal_size((160, 24)).columns)
        console = Console(stderr=stderr, file=file, highlight=False, soft_wrap=True, width=width)
    return console


def table(*columns: str, **kw):
    """A rich Table whose columns wrap (fold) long values instead of cutting them."""
    from rich.table import Table

    t = Table(**kw)
    for c in columns:
        t.add_column(c, overflow="fold")
    return t
