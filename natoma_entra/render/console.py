"""The consoles a run prints on, built once by the Application."""
from __future__ import annotations

import os
from typing import Any, Iterable, Iterator


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


def table(*columns: str, ids: tuple[str, ...] = (), **kw) -> "Grid":
    """A table of the run's output (render/console.py Grid): a rich Table at a terminal, plain lines piped."""
    return Grid(*columns, ids=ids, **kw)


RICH_ROWS = 200  # above this many rows a table is written line by line (rich lays a Table out whole: slow)


def _plain(cell: Any) -> str:
    """A cell's text on one line (a cell of several lines reads "a; b")."""
    text = cell.plain if hasattr(cell, "plain") else str(cell)
    return "; ".join(part.strip() for part in text.split("\n") if part.strip()) if "\n" in text else text


class Grid:
    """A table that suits where it goes (issue 26: box drawing up to 280 columns in a CI log):

    - at a terminal, a rich Table: long values fold at the console's width, but a column named in `ids` (a UPN, an
      object id) is never folded (its width is its longest value), so it can be copied whole;
    - piped or redirected, plain text as kubectl prints it: no box drawing, a header line, then one line per row,
      the columns aligned with two spaces between them, a cell of several lines joined by "; " (no tab: output holds
      no control character, docs/security.md);
    - a table of more than RICH_ROWS rows is written line by line as it goes (stream()).

    Cells are str or rich Text, already made inert (inert.cell / inert.clean_cell)."""

    def __init__(self, *columns: str, ids: tuple[str, ...] = (), title: Any = None, **kw: Any):
        self.columns = list(columns)
        self.ids = set(ids)
        self.title = title
        self.kw = kw
        self.rows: list[tuple[Any, ...]] = []

    def add_row(self, *cells: Any) -> None:
        self.rows.append(cells)

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def rich_table(self) -> Any:
        from rich.table import Table

        t = Table(title=self.title, **self.kw)
        for i, name in enumerate(self.columns):
            if name in self.ids:
                longest = max([len(_plain(r[i])) for r in self.rows if i < len(r)] + [len(name)])
                t.add_column(name, no_wrap=True, min_width=longest)
            else:
                t.add_column(name, overflow="fold")
        for row in self.rows:
            t.add_row(*row)
        return t

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.segment import Segment

        if console.is_terminal and len(self.rows) <= RICH_ROWS:
            yield self.rich_table()
            return
        # piped, or too long to lay out: plain aligned lines
        for line in self._aligned(self.rows):
            yield Segment(line)
            yield Segment.line()

    def stream(self, console: Any, rows: Iterable[tuple[Any, ...]]) -> None:
        """Write a long table as its rows come, without laying it out whole: at a terminal a rich Table for a few
        rows, else (and piped) plain aligned lines, the widths those of the first RICH_ROWS rows (a longer value
        pushes its line's next cells right)."""
        import itertools

        rows = iter(rows)
        head = list(itertools.islice(rows, RICH_ROWS + 1))
        if console.is_terminal and len(head) <= RICH_ROWS:
            self.rows = head
            console.print(self.rich_table())
            return
        out = console.file
        batch: list[str] = []
        for line in self._aligned(head, rows):
            batch.append(line)
            if len(batch) >= 1000:
                out.write("\n".join(batch) + "\n")
                out.flush()
                batch = []
        if batch:
            out.write("\n".join(batch) + "\n")
        out.flush()

    def _aligned(self, head: list[tuple[Any, ...]], rest: Iterable[tuple[Any, ...]] = ()) -> Iterator[str]:
        import itertools

        widths = [len(c) for c in self.columns]
        for row in head:
            for i, cell in enumerate(row[:len(widths)]):
                widths[i] = max(widths[i], len(_plain(cell)))
        if self.title:
            yield _plain(self.title)
        yield "  ".join(c.ljust(w) for c, w in zip(self.columns, widths)).rstrip()
        for row in itertools.chain(head, rest):
            yield "  ".join(_plain(c).ljust(w) for c, w in zip(row, widths)).rstrip()
