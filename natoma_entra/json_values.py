"""Reading JSON from Graph, Natoma or the sandbox defensively: a value of the wrong shape reads as empty, never as
an exception far from where it came in."""
from __future__ import annotations

from typing import Any


def obj(value: Any) -> dict[str, Any]:
    """The value when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def objects(value: Any) -> list[dict[str, Any]]:
    """The objects of a JSON array (anything else in it is left out); an empty list when it is not an array."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def text(value: Any) -> str | None:
    """A string value, or None (a number or an object where a string belongs is not one)."""
    return value if isinstance(value, str) else None
