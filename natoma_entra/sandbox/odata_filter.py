"""A small OData $filter parser/evaluator, enough for the queries Graph clients send.

Supports ``eq ne gt ge lt le``, ``in (...)``, ``and or not``, parentheses, ``startswith(p,'x')``, ``endswith``,
``contains``, ``tolower``/``toupper``, property paths (``servicePrincipal/id``), string literals with ``''`` for one
quote (OData ABNF, and Graph docs concepts/query-parameters.md "Escaping single quotes"), numbers, true/false/null, GUIDs
and ISO date-times as bare literals. Anything else raises ``ODataError``.

Why not the odata-query package (an OData v4 $filter parser on sly): it was tried against the filters this CLI
sends. It parses them all, but (1) it refuses ``startsWith``/``endsWith`` spelled as Microsoft Graph's own examples
spell them (learn.microsoft.com/graph/filter-query-parameter, /graph/aad-advanced-queries), so a pre-pass would still
be ours; (2) sly builds its parser tables at import, about 0.3 s in every sandbox process; (3) it parses the
``id in (...)`` batches the audit sends about seven times slower than this parser; and (4) it gives an AST only: the
evaluation over JSON objects (case-insensitive directory comparisons, case-sensitive provisioning logs, date-time
coercion) would stay here. Two runtime dependencies for the wheel (the sandbox ships in it) for a hundred lines of
tokenizer is not a trade worth making.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from typing import Any, Callable


class ODataError(ValueError):
    pass


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>'(?:[^']|'')*')
      | (?P<lp>\()
      | (?P<rp>\))
      | (?P<comma>,)
      | (?P<word>[A-Za-z0-9_@.:+\-/$]+)
    )""",
    re.X,
)
_FUNCS = {"startswith", "endswith", "contains", "tolower", "toupper"}
_CMP = {"eq", "ne", "gt", "ge", "lt", "le"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$")


@dataclass
class _Tok:
    kind: str
    text: str


def tokenize(s: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    s = s.rstrip()
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if not m or m.end() == pos:
            raise ODataError(f"Syntax error at position {pos} in '{s}'.")
        pos = m.end()
        kind = m.lastgroup or ""
        out.append(_Tok(kind, m.group(kind)))
    return out


Node = Callable[[dict[str, Any]], Any]


class _Parser:
    def __init__(self, text: str, case_insensitive: bool):
        self.toks = tokenize(text)
        self.i = 0
        self.ci = case_insensitive
        self.text = text

    def peek(self, k: int = 0) -> _Tok | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def take(self, kind: str | None = None, text: str | None = None) -> _Tok:
        t = self.peek()
        if t is None or (kind and t.kind != kind) or (text and t.text.lower() != text):
            raise ODataError(f"Syntax error: expected {text or kind} in '{self.text}'.")
        self.i += 1
        return t

    def is_word(self, word: str) -> bool:
        t = self.peek()
        return t is not None and t.kind == "word" and t.text.lower() == word

    def parse(self) -> Node:
        node = self.or_expr()
        extra = self.peek()
        if extra is not None:
            raise ODataError(f"Syntax error: unexpected '{extra.text}' in '{self.text}'.")
        return node

    def at(self, kind: str) -> bool:
        t = self.peek()
        return t is not None and t.kind == kind

    def or_expr(self) -> Node:
        left = self.and_expr()
        while self.is_word("or"):
            self.i += 1
            right = self.and_expr()
            left = (lambda a, b: lambda o: bool(a(o)) or bool(b(o)))(left, right)
        return left

    def and_expr(self) -> Node:
        left = self.not_expr()
        while self.is_word("and"):
            self.i += 1
            right = self.not_expr()
            left = (lambda a, b: lambda o: bool(a(o)) and bool(b(o)))(left, right)
        return left

    def not_expr(self) -> Node:
        if self.is_word("not"):
            self.i += 1
            inner = self.not_expr()
            return lambda o: not inner(o)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        t = self.peek()
        if t is not None and t.kind == "word" and t.text.lower() in _CMP:
            self.i += 1
            right = self.operand()
            op = t.text.lower()
            return lambda o: _compare(op, left(o), right(o), self.ci)
        if t is not None and t.kind == "word" and t.text.lower() == "in":
            self.i += 1
            self.take("lp")
            values: list[Node] = [self.operand()]
            while self.at("comma"):
                self.i += 1
                values.append(self.operand())
            self.take("rp")
            return lambda o: any(_compare("eq", left(o), v(o), self.ci) for v in values)
        return left

    def operand(self) -> Node:
        t = self.peek()
        if t is None:
            raise ODataError(f"Syntax error: unexpected end of '{self.text}'.")
        if t.kind == "lp":
            self.i += 1
            node = self.or_expr()
            self.take("rp")
            return node
        if t.kind == "str":
            self.i += 1
            value = t.text[1:-1].replace("''", "'")
            return lambda o: value
        if t.kind == "word":
            nxt = self.peek(1)
            name = t.text.lower()
            if name in _FUNCS and nxt is not None and nxt.kind == "lp":
                self.i += 2
                args = [self.or_expr()]
                while self.at("comma"):
                    self.i += 1
                    args.append(self.or_expr())
                self.take("rp")
                return _function(name, args, self.ci, self.text)
            self.i += 1
            return _literal_or_path(t.text)
        raise ODataError(f"Syntax error: unexpected '{t.text}' in '{self.text}'.")


def _literal_or_path(word: str) -> Node:
    low = word.lower()
    if low in ("true", "false"):
        v = low == "true"
        return lambda o: v
    if low == "null":
        return lambda o: None
    if re.fullmatch(r"-?\d+(\.\d+)?", word):
        n = float(word) if "." in word else int(word)
        return lambda o: n
    if _DATE.match(word):
        d = parse_datetime(word)
        return lambda o: d
    if re.fullmatch(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", word):
        return lambda o: word
    if re.fullmatch(r"[A-Za-z_@][A-Za-z0-9_@]*(/[A-Za-z_@][A-Za-z0-9_@]*)*", word):
        parts = word.split("/")
        return lambda o: _get_path(o, parts)
    raise ODataError(f"Invalid filter clause: '{word}'.")


def _get_path(obj: Any, parts: list[str]) -> Any:
    for p in parts:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(p)
    return obj


def parse_datetime(s: str) -> _dt.datetime:
    s2 = s.replace("Z", "+00:00")
    if "T" not in s2:
        s2 += "T00:00:00+00:00"
    # Python < 3.11 tolerance for 7-digit fractions: trim to 6
    s2 = re.sub(r"(\.\d{6})\d+", r"\1", s2)
    d = _dt.datetime.fromisoformat(s2)
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.timezone.utc)
    return d


def _norm(a: Any, b: Any, ci: bool) -> tuple[Any, Any]:
    if isinstance(b, _dt.datetime) and isinstance(a, str):
        try:
            a = parse_datetime(a)
        except ValueError:
            pass
    if isinstance(a, _dt.datetime) and isinstance(b, str):
        try:
            b = parse_datetime(b)
        except ValueError:
            pass
    if ci and isinstance(a, str) and isinstance(b, str):
        return a.lower(), b.lower()
    return a, b


def _compare(op: str, a: Any, b: Any, ci: bool) -> bool:
    a, b = _norm(a, b, ci)
    if op == "eq":
        return a == b
    if op == "ne":
        return a != b
    if a is None or b is None:
        return False
    try:
        return {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]
    except TypeError:
        return False


def _function(name: str, args: list[Node], ci: bool, text: str) -> Node:
    if name in ("tolower", "toupper"):
        if len(args) != 1:
            raise ODataError(f"{name} takes one argument in '{text}'.")
        f = str.lower if name == "tolower" else str.upper
        return lambda o: f(v) if isinstance(v := args[0](o), str) else v
    if len(args) != 2:
        raise ODataError(f"{name} takes two arguments in '{text}'.")

    def run(o: dict[str, Any]) -> bool:
        a, b = args[0](o), args[1](o)
        if not isinstance(a, str) or not isinstance(b, str):
            return False
        if ci:
            a, b = a.lower(), b.lower()
        if name == "startswith":
            return a.startswith(b)
        if name == "endswith":
            return a.endswith(b)
        return b in a

    return run


def compile_filter(text: str, *, case_insensitive: bool = True) -> Node:
    """Compile a $filter expression into a predicate over a JSON object."""
    return _Parser(text, case_insensitive).parse()


def quote(value: str) -> str:
    """An OData string literal: ``O'Brien`` -> ``'O''Brien'``."""
    return "'" + value.replace("'", "''") + "'"
