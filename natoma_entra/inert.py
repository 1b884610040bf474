"""Data from the tenant or from Natoma made inert before it is shown: one place for the escaping every output uses.

A display name, a userName, a provisioning log's reason or a server's error text is data, and reaches a terminal, a
CI log or a file. There it must not act as anything but text (docs/security.md):

- control characters (C0 with line breaks and tabs, DEL, C1), bidirectional and invisible formatting characters
  (every Unicode "Cf": U+200B-U+200F, U+202A-U+202E, U+2066-U+2069, U+061C, U+FEFF, ...), line and paragraph
  separators (U+2028, U+2029), lone surrogates and the invisible Hangul fillers are written as visible escapes
  (`\\x1b`, `\\u202e`, `\\U000e0041`), so an ANSI/OSC sequence cannot move the cursor, retitle the window or open a
  hyperlink, a line break cannot start a new line, and U+202E cannot reorder what is read;
- a GitHub Actions runner treats a line that starts (after whitespace) with `::` as a workflow command, and `##[` as
  one anywhere in a line (actions/runner src/Runner.Common/ActionCommand.cs, TryParseV2 and TryParse): in data a
  colon that follows a colon is written `\\x3a`, and the `#` before `[` in `##[` is written `\\x23`, so neither can be
  formed by data however a table folds it;
- rich markup is never interpreted: the consoles are built with markup and emoji off (render/console.py), and data
  goes into rich `Text`.

A backslash is left as it is: `\\x1b` in output is either an escaped ESC or those four characters in the data, and
neither acts on the terminal.
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterable

# Every code point of the Unicode categories Cc (controls), Cf (format), Zl, Zp and Cs (surrogates), as of the
# Unicode version of Python 3.11 to 3.13 (tests/security/test_hostile_output.py checks the list against unicodedata),
# and the Hangul fillers, which are letters that render as nothing.
_UNSAFE_RANGES = (
    "\x00-\x1f\x7f-\x9f"  # C0 (line breaks and tabs included), DEL, C1 (U+0085 NEL, U+009B CSI, U+009D OSC)
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb"
    "\ud800-\udfff"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f"
)
_UNSAFE = re.compile(f"[{_UNSAFE_RANGES}]")
# an unsafe character, or the second '#' of '##[' (a workflow command anywhere in a line)
_UNSAFE_OR_HASH = re.compile(f"[{_UNSAFE_RANGES}]|#(?=\\[)(?<=##)")
_COLON_PAIR = re.compile(r"(?<=:):")  # a colon right after a colon
_LEADING_COLONS = re.compile(r"^(\s*:):")  # a line that starts with '::' after whitespace (as the runner trims it)


def _visible(ch: str) -> str:
    n = ord(ch)
    if n < 0x100:
        return f"\\x{n:02x}"
    if n < 0x10000:
        return f"\\u{n:04x}"
    return f"\\U{n:08x}"


def _escaped(m: re.Match) -> str:
    return _visible(m.group())


def escape(value: Any) -> str:
    """A data value (a table cell, a name inside a line) as inert text: unsafe characters written as visible escapes,
    `##[` broken up, and every `::` too, since a table may start a line with the value or fold it anywhere."""
    s = value if isinstance(value, str) else str(value)
    s = _UNSAFE_OR_HASH.sub(_escaped, s)
    return _COLON_PAIR.sub("\\\\x3a", s) if "::" in s else s


def escape_line(line: Any) -> str:
    """A whole output line, our words and data together: unsafe characters and `##[` escaped, and `::` broken up only
    where it starts the line (our own words may hold `::`, as in an IPv6 address, in the middle of a line). Output
    lines are never wrapped (the consoles soft-wrap), so a line starts only where it is printed."""
    s = line if isinstance(line, str) else str(line)
    s = _UNSAFE_OR_HASH.sub(_escaped, s)
    return _LEADING_COLONS.sub(lambda m: m.group(1) + "\\x3a", s, count=1)


def clean(line: Any) -> str:
    """What every output line made from data goes through: secrets masked (redact.py), then escape_line()."""
    from .redact import redact

    return escape_line(redact(line if isinstance(line, str) else str(line)))


def clean_cell(value: Any) -> str:
    """A table cell's text: secrets masked, then escape(); a cell of several lines keeps its own line breaks only
    when given as a list (see cell_lines)."""
    from .redact import redact

    return escape(redact(value if isinstance(value, str) else str(value)))


def clean_row(values: Iterable[Any]) -> tuple[str, ...]:
    """clean_cell() of each value of a table row (one import for the row: a 20,000-row table pays it per row)."""
    from .redact import redact

    return tuple(escape(redact(v if isinstance(v, str) else str(v))) for v in values)


def cell_lines(texts: list[str]) -> str:
    """Several lines for one table cell: each escaped on its own, then joined by line breaks that are ours."""
    return "\n".join(clean_cell(t) for t in texts)


# Markdown's own characters, escaped with a backslash so a name reads as text wherever it stands in a line (CommonMark:
# any ASCII punctuation may be escaped; data never starts a line, so - + . need no escape); & < > become entities,
# so nothing reads as HTML; `@` after a non-word character gets a zero-width
# space entity after it, so a name such as "@org/team" is not a GitHub mention in a pull-request comment.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|!#~<>&])")
_MARKDOWN_ENTITY = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MENTION = re.compile(r"(?<![0-9A-Za-z])@")


def _markdown_escaped(m: re.Match) -> str:
    ch = m.group(1)
    return _MARKDOWN_ENTITY.get(ch) or "\\" + ch


def markdown(value: Any) -> str:
    """A data value for Markdown (a table cell, a name in a line of a pull-request comment or job summary): cleaned
    as clean_cell() cleans it (secrets masked, control and invisible characters as visible escapes, `::` and `##[`
    broken up), then Markdown's characters escaped, as the GitHub Action's job summary always did."""
    return _MENTION.sub("@&#8203;", _MARKDOWN_SPECIAL.sub(_markdown_escaped, clean_cell(value)))


def text(line: Any, style: str = ""):
    """A rich Text of one output line, cleaned: never read as markup, never carrying a control character."""
    from rich.text import Text

    return Text(clean(line), style=style)


def cell(value: Any, style: str = ""):
    """A rich Text for a table cell, cleaned as a data value."""
    from rich.text import Text

    return Text(clean_cell(value), style=style)


def json_text(value: Any, **kw: Any) -> str:
    """JSON that stays inert when printed: every non-ASCII and control character as a \\u escape (ensure_ascii), and
    `##[` (which can only sit inside a string here) with its '[' as \\u005b. A JSON line starts with a brace, a
    bracket or a quote, never with `::`. Secrets are not masked here: dumps() does that."""
    out = json.dumps(value, ensure_ascii=True, **kw)
    return out.replace("##[", "##\\u005b") if "##[" in out else out


def dumps(value: Any, **kw: Any) -> str:
    """json_text() with every secret masked (redact.py): what the CLI prints and writes."""
    from .redact import redact

    return redact(json_text(value, **kw))


_TOML_ESCAPE = re.compile(f'[\\\\"{_UNSAFE_RANGES}]|#(?=\\[)(?<=##)')


def _toml_escaped(m: re.Match) -> str:
    ch = m.group()
    if ch in '\\"':
        return "\\" + ch
    n = ord(ch)
    return f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def toml_string(value: str) -> str:
    """A TOML basic string (toml.io v1.0.0, "String"): quote and backslash escaped, and every character escape()
    would escape written as \\uXXXX (or \\UXXXXXXXX), `##[` too; so the value stays on its line, cannot close the
    string, and shows no control or bidi character in the file. tomllib reads back exactly `value` (export.py checks
    it). A lone surrogate cannot be written in TOML at all: the check refuses it."""
    return '"' + _TOML_ESCAPE.sub(_toml_escaped, value) + '"'


def toml_comment(text: str) -> str:
    """A TOML comment line: `# ` and the text on one line, escaped as escape_line() does (no line break can end the
    comment and start a key)."""
    return "# " + escape_line(text)


def unsafe_characters(text: str) -> list[str]:
    """The characters escape() would write as escapes (for checks)."""
    return _UNSAFE.findall(text)
