"""OData helpers: string literals and URL paths.

The SDK only percent-encodes; a quote inside a literal must be doubled by us (docs/dev/design-notes.md).
"""
from __future__ import annotations

import re
from urllib.parse import quote

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def literal(value: str) -> str:
    """An OData string literal: O'Brien -> 'O''Brien'."""
    return "'" + value.replace("'", "''") + "'"


def eq(prop: str, value: str) -> str:
    return f"{prop} eq {literal(value)}"


def is_guid(value: str) -> bool:
    return bool(GUID.match(value))


def seg(value: str) -> str:
    """One path segment (an id, a job id such as 'scim.abc.def', a UPN with '@')."""
    return quote(value, safe="@.:'()=")
