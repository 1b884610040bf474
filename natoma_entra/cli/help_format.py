"""How --help is laid out: Click's plain formatter (not typer's rich panels), as wide as the terminal up to 100
columns, with text wrapped at spaces only.

Click wraps help at hyphens and cuts long words, so a flag could read "--dry-" / "run" across two lines. The command
classes here (handed to typer by `cls=`, typer's documented way to change the Click command it builds) wrap each text
themselves and give it to Click's formatter as a block Click keeps as it is (its `\\b` marker): a flag, a command name
or an expression stays whole, as it must be typed. The layout (sections, columns, indentation) stays Click's.
"""
from __future__ import annotations

import inspect
import textwrap
from typing import Any

from typer.core import TyperCommand, TyperGroup

# -h as well as --help; help as wide as the terminal up to 100 columns (Click stops at 80)
HELP_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# Click's definition lists (options, commands): the first column at most 30 wide, then 2 spaces (HelpFormatter.write_dl)
_FIRST_COLUMN_MAX, _COLUMN_SPACING = 30, 2
KEEP = "\b"  # Click's marker: the paragraph that follows is not rewrapped


def wrap(text: str, width: int) -> str:
    """`text` wrapped to `width` at spaces only, each paragraph marked for Click to keep as it is. Paragraphs as Click
    reads them: separated by an empty line, indented as their first line; one already marked keeps its lines."""
    paragraphs = []
    for paragraph in textwrap.dedent(text.expandtabs()).strip("\n").split("\n\n"):
        lines = paragraph.strip("\n").splitlines()
        if not lines:
            continue
        if lines[0].strip() == KEEP:
            paragraphs.append("\n".join([KEEP, *lines[1:]]))
            continue
        indent = " " * (len(lines[0]) - len(lines[0].lstrip()))
        filled = textwrap.wrap(" ".join(line.strip() for line in lines), max(width, 10), initial_indent=indent,
                               subsequent_indent=indent, break_on_hyphens=False, break_long_words=False)
        paragraphs.append("\n".join([KEEP, *filled]))
    return "\n\n".join(paragraphs)


def _write_text(formatter: Any, text: str) -> None:
    """A paragraph block under the usage line (help text, epilog), indented as Click indents it."""
    formatter.write_paragraph()
    with formatter.indentation():
        formatter.write_text(wrap(text, formatter.width - formatter.current_indent))


def _write_rows(formatter: Any, title: str, rows: list[tuple[str, str]]) -> None:
    """A titled definition list, its second column wrapped to the width Click's write_dl gives it."""
    if not rows:
        return
    first = min(max(len(name) for name, _ in rows), _FIRST_COLUMN_MAX) + _COLUMN_SPACING
    width = max(formatter.width - first - 2, 10)
    with formatter.section(title):
        formatter.write_dl([(name, wrap(text, width) if text else text) for name, text in rows])


def _help_text(command: TyperCommand | TyperGroup, formatter: Any) -> None:
    text = inspect.cleandoc(command.help or "").partition("\f")[0]
    if text:
        _write_text(formatter, text)


def _epilog(command: TyperCommand | TyperGroup, formatter: Any) -> None:
    if command.epilog:
        _write_text(formatter, inspect.cleandoc(command.epilog))


def _params(command: TyperCommand | TyperGroup, ctx: Any, formatter: Any) -> None:
    """Arguments, then options, as typer lists them."""
    arguments: list[tuple[str, str]] = []
    options: list[tuple[str, str]] = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is not None:
            (arguments if param.param_type_name == "argument" else options).append(record)
    _write_rows(formatter, "Arguments", arguments)
    _write_rows(formatter, "Options", options)


# Click's Context and HelpFormatter are private to typer 0.29 (it vendors Click), hence `Any` for `ctx` and `formatter`
class NatomaCommand(TyperCommand):
    """A command whose --help wraps at spaces only."""

    def format_help_text(self, ctx: Any, formatter: Any) -> None:
        _help_text(self, formatter)

    def format_options(self, ctx: Any, formatter: Any) -> None:
        _params(self, ctx, formatter)

    def format_epilog(self, ctx: Any, formatter: Any) -> None:
        _epilog(self, formatter)


class NatomaGroup(TyperGroup):
    """A command group whose --help wraps at spaces only and lists each command's line whole."""

    def format_help_text(self, ctx: Any, formatter: Any) -> None:
        _help_text(self, formatter)

    def format_options(self, ctx: Any, formatter: Any) -> None:
        _params(self, ctx, formatter)
        self.format_commands(ctx, formatter)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        from .command_tree import LazyCommands

        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)  # as typer's TyperGroup
        rows = []
        for name in names:
            if isinstance(self.commands, LazyCommands):  # a command's line without building the command
                line, hidden = self.commands.listing(name, limit)
            else:
                command = self.get_command(ctx, name)
                if command is None:
                    continue
                line, hidden = command.get_short_help_str(limit), command.hidden
            if not hidden:
                rows.append((name, line))
        _write_rows(formatter, "Commands", rows)

    def list_commands(self, ctx: Any) -> list[str]:
        """The names, in typer's order, without building the commands (typer's own reads each one)."""
        return list(self.commands)

    def format_epilog(self, ctx: Any, formatter: Any) -> None:
        _epilog(self, formatter)


def first_paragraph(text: str) -> str:
    """A command's line in its group's list, whole (Click would cut it at the width, ending with "...")."""
    return " ".join(text.strip().split("\n\n")[0].split())


def plain_help(text: str) -> str:
    """Click rewraps each paragraph of a help text; a paragraph of examples keeps its lines (Click's \\b marker)."""
    paragraphs = text.strip().split("\n\n")
    return "\n\n".join(f"{KEEP}\n{p}" if p.lstrip().startswith("Example:") else p for p in paragraphs)
