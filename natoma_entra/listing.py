"""Long lists in text output (issue 26): sorted as people read them, bounded, and saying what was left out.

- natural order: "Bench 2" before "Bench 10" (digits compared as numbers), case aside;
- a list longer than its bound shows the first ones and "... and N more (-o json for all)": the JSON report always
  holds every item, and a text page of 20,000 lines helps nobody (`audit --all` asks for every line).
"""
from __future__ import annotations

import re
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")

_DIGITS = re.compile(r"(\d+)")
SHOWN = 50  # rows of a bounded list in text output


def natural_key(text: str) -> tuple:
    """A sort key that reads runs of digits as numbers and ignores case: Bench 0, Bench 1, Bench 2, ..., Bench 10."""
    parts = _DIGITS.split(text.casefold())
    # (0, number) for digits and (1, text) otherwise, so a number and a word never compare with each other
    return tuple((0, int(p), p) if i % 2 else (1, p, "") for i, p in enumerate(parts))


def natural_sorted(items: Iterable[T], key: Callable[[T], str] = str) -> list[T]:
    return sorted(items, key=lambda x: natural_key(key(x)))


def more(hidden: int) -> str:
    """The line that stands for what a bounded list left out."""
    return f"... and {hidden:,} more (-o json for all)"


def bounded(lines: list[str], shown: int = SHOWN) -> list[str]:
    """The first `shown` lines, then one line counting the rest."""
    if len(lines) <= shown:
        return list(lines)
    return lines[:shown] + [more(len(lines) - shown)]
