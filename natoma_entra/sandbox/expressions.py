"""Evaluation of attribute-mapping sources (synchronization attributeMappingSource trees).

A source is ``{"type": "Attribute"|"Constant"|"Function", "name", "expression", "parameters": [{"key", "value"}]}``
(Graph docs synchronization-attributemappingsource.md). Values are strings, as in Entra's expression language (booleans are
"True"/"False"), except ``[appRoleAssignments]`` (a list of :class:`Grant`) and the complex role functions (a
:class:`ComplexRoles`).

Function semantics follow Entra docs functions-for-customizing-application-data.md and customize-application-attributes.md.
Parameters are read by position, not by key, since the keys of parsed expressions are not all documented.
An error (a function the sandbox does not implement, two roles for SingleAppRoleAssignment) raises
:class:`ExpressionError` with an errorCode for the provisioning log; it never crashes the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

ROLE_TYPE = "WindowsAzureActiveDirectoryRole"


class ExpressionError(Exception):
    """Evaluation failed for one object: ``code`` is the provisioning log's errorCode."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Grant:
    """One app role granted to the user on this service principal (directly or through a direct group)."""

    app_role_id: str
    value: str | None  # None for the default roles (msiam_access, User) and default access
    display_name: str | None

    @property
    def label(self) -> str:
        """How the provisioning logs show the grant: the role's value, else its display name ("User", "msiam_access")."""
        return self.value or self.display_name or self.app_role_id


@dataclass
class ComplexRoles:
    """The result of AppRoleAssignmentsComplex (add-only) / AssertiveAppRoleAssignmentsComplex (replace)."""

    roles: list[dict] = field(default_factory=list)
    assertive: bool = False

    def values(self) -> list[str]:
        return [r["value"] for r in self.roles]


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() == "true"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list):
        return ", ".join(str(_text(v)) for v in value if v is not None) or None
    return str(value)


def _valued_grants(value: Any) -> list[Grant]:
    grants = value if isinstance(value, list) else []
    seen: dict[str, Grant] = {}
    for g in grants:
        if isinstance(g, Grant) and g.value is not None and g.app_role_id not in seen:
            seen[g.app_role_id] = g
    return list(seen.values())


# -- functions: each takes the evaluated positional arguments -------------------------------------------------------


def _single_app_role_assignment(args: list[Any]) -> str | None:
    # Entra docs: "If multiple roles are assigned to a user, which role is provisioned isn't predictable." The sandbox
    # fails the user instead, as the guide's troubleshooting table describes. The error code name
    # "MultipleGrantsNotSupported" comes from the guide; Entra's real code is UNCONFIRMED (docs/graph-assumptions.md).
    # A grant of a role without a value (msiam_access / User, default access) carries no role and is ignored.
    grants = _valued_grants(args[0] if args else None)
    values = sorted({g.value for g in grants if g.value is not None})
    if len(values) > 1:
        raise ExpressionError(
            "MultipleGrantsNotSupported",
            "SingleAppRoleAssignment found more than one app role assignment for the user "
            f"({', '.join(values)}); it supports a single role per user.",
        )
    return values[0] if values else None


def _complex(assertive: bool) -> Callable[[list[Any]], ComplexRoles]:
    def run(args: list[Any]) -> ComplexRoles:
        roles = [
            {"primary": False, "type": ROLE_TYPE, "display": g.display_name, "value": g.value}
            for g in sorted(_valued_grants(args[0] if args else None), key=lambda g: g.value or "")
        ]
        return ComplexRoles(roles=roles, assertive=assertive)

    return run


def _switch(args: list[Any]) -> Any:
    # Switch(source, defaultValue, key1, value1, key2, value2, ...)
    source = _text(args[0]) if args else None
    default = args[1] if len(args) > 1 else None
    pairs = args[2:]
    for i in range(0, len(pairs) - 1, 2):
        if source is not None and _text(pairs[i]) == source:
            return pairs[i + 1]
    return default


def _not(args: list[Any]) -> str | None:
    if not args or args[0] is None:
        return None
    return "False" if _truthy(args[0]) else "True"


def _join(args: list[Any]) -> str | None:
    if not args:
        return None
    separator = _text(args[0]) or ""
    parts: list[str] = []
    for a in args[1:]:
        for v in a if isinstance(a, list) else [a]:
            t = _text(v)
            if t:
                parts.append(t)
    return separator.join(parts) if parts else None


def _coalesce(args: list[Any]) -> Any:
    for a in args:
        if a not in (None, "", []):
            return a
    return None


def _case(upper: bool) -> Callable[[list[Any]], str | None]:
    def run(args: list[Any]) -> str | None:
        t = _text(args[0]) if args else None
        if t is None:
            return None
        return t.upper() if upper else t.lower()

    return run


def _append(args: list[Any]) -> str | None:
    t = _text(args[0]) if args else None
    suffix = _text(args[1]) if len(args) > 1 else ""
    return None if t is None else t + (suffix or "")


def _mid(args: list[Any]) -> str | None:
    t = _text(args[0]) if args else None
    if t is None:
        return None
    start = max(int(_text(args[1]) or "1"), 1) - 1 if len(args) > 1 else 0  # 1-based in Entra
    length = int(_text(args[2]) or "0") if len(args) > 2 else len(t)
    return t[start : start + length]


def _left(args: list[Any]) -> str | None:
    t = _text(args[0]) if args else None
    n = int(_text(args[1]) or "0") if len(args) > 1 else 0
    return None if t is None else t[:n]


def _is_null_or_empty(args: list[Any]) -> str:
    return "True" if (not args or args[0] in (None, "", [])) else "False"


def _is_present(args: list[Any]) -> str:
    return "False" if _is_null_or_empty(args) == "True" else "True"


def _strip_spaces(args: list[Any]) -> str | None:
    t = _text(args[0]) if args else None
    return None if t is None else t.replace(" ", "")


FUNCTIONS: dict[str, Callable[[list[Any]], Any]] = {
    "SingleAppRoleAssignment": _single_app_role_assignment,
    "AppRoleAssignmentsComplex": _complex(assertive=False),
    "AssertiveAppRoleAssignmentsComplex": _complex(assertive=True),
    "Switch": _switch,
    "Not": _not,
    "Join": _join,
    "Coalesce": _coalesce,
    "ToLower": _case(upper=False),
    "ToUpper": _case(upper=True),
    "Append": _append,
    "Mid": _mid,
    "Left": _left,
    "IsNullOrEmpty": _is_null_or_empty,
    "IsPresent": _is_present,
    "StripSpaces": _strip_spaces,
}


def evaluate(source: dict | None, attributes: dict[str, Any]) -> Any:
    """Evaluate an attributeMappingSource against the source object's attributes (None for a null source)."""
    if source is None:
        return None
    kind = source.get("type")
    name = source.get("name")
    if kind == "Attribute":
        # Attribute names are case-insensitive in Entra's expressions.
        if name in attributes:
            return attributes[name]
        lowered = {k.lower(): v for k, v in attributes.items()}
        return lowered.get(str(name).lower())
    if kind == "Constant":
        return name
    if kind == "Function":
        fn = FUNCTIONS.get(str(name))
        if fn is None:
            raise ExpressionError(
                "SandboxFunctionNotImplemented",
                f"The sandbox's provisioning engine does not implement the function '{name}' "
                f"(expression: {source.get('expression')}).",
            )
        args = [evaluate(p.get("value"), attributes) for p in source.get("parameters") or []]
        return fn(args)
    raise ExpressionError("InvalidExpression", f"Unknown attribute mapping source type '{kind}'.")


def attributes_used(source: dict | None) -> set[str]:
    """The source attribute names an expression reads."""
    if source is None:
        return set()
    found = {source["name"]} if source.get("type") == "Attribute" else set()
    for p in source.get("parameters") or []:
        found |= attributes_used(p.get("value"))
    return found
