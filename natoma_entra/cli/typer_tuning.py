"""What the CLI tunes in typer: help in Click's plain formatter, wrapped at spaces only, and option values converted
without pydantic when there is nothing to convert. Both for start-up (issue 13: --help and a usage error at most
0.8x `az --help`; docs/performance.md) and both fall back to typer's own behaviour when its internals move.
"""
from __future__ import annotations

from enum import Enum

# -h as well as --help; help as wide as the terminal up to 100 columns (Click stops at 80)
HELP_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class LightCoercion:
    """typer 0.29 converts every option value with a pydantic TypeAdapter, built on first use even for a value that
    is None or already of its type: any run that parses an option imported pydantic (~100 ms), a usage error and a
    command's --help included. This answers those cases as typer's own conversion would, and builds typer's only for
    a value that needs converting (a path, a number or a list from the command line). It leans on typer's internals:
    a typer without them gets its own conversion for every value (slower, the same answers)."""

    def __init__(self, param):
        self.param, self.real = param, None

    def coerce(self, value, param, ctx):
        try:
            answered, result = self._answer(value, param, ctx)
        except (AttributeError, ImportError):  # a typer whose internals moved
            answered, result = False, None
        if answered:
            return result
        if self.real is None:
            from typer._coercion import build_runtime_param

            self.real = build_runtime_param(param.type_descriptor)
        return self.real.coerce(value, param=param, ctx=ctx)

    def _answer(self, value, param, ctx) -> tuple[bool, object]:
        desc = param.type_descriptor
        multi = param.multiple or param.nargs == -1
        if value is None:
            return True, (() if multi else None)  # as typer's RuntimeParam.coerce
        if multi or desc.is_path or desc.is_file:
            return False, None
        kind = desc.annotation
        if desc.is_choice and isinstance(value, (str, Enum)):
            from typer._click.exceptions import BadParameter
            from typer._param_types import coerce_cli_choice

            try:  # typer's own choice matching; its message as pydantic wraps it
                return True, coerce_cli_choice(value, choices=desc.choices, case_sensitive=desc.case_sensitive,
                                               ctx=ctx)
            except ValueError as e:
                raise BadParameter(f"Value error, {e}", ctx=ctx, param=param) from None
        if kind is str and type(value) is str:
            return True, value
        if kind in (int, float) and type(value) is kind and self._in_range(desc.parameter_info, value):
            return True, value  # a default from the code
        return False, None

    @staticmethod
    def _in_range(info, value) -> bool:
        return (info.min is None or value >= info.min) and (info.max is None or value <= info.max)


def light_coercion() -> None:
    """Every typer parameter (the help option typer makes per run included) converts through LightCoercion."""
    try:
        from typer.core import _TyperParameter

        original = _TyperParameter.get_runtime_param
    except (ImportError, AttributeError):  # a typer without this hook: its own conversion throughout
        return
    if getattr(original, "_natoma_entra", False):
        return

    def get_runtime_param(self):
        if getattr(self, "_runtime_param", None) is None:
            self._runtime_param = LightCoercion(self)
        return self._runtime_param

    get_runtime_param._natoma_entra = True
    _TyperParameter.get_runtime_param = get_runtime_param


def no_break_on_hyphens() -> None:
    """Click wraps help text at hyphens and cuts long words, so a flag could read "--dry-" / "run" across two lines;
    wrap at spaces only (a flag, a command name or an expression stays whole, as it must be typed)."""
    import textwrap

    try:
        from typer._click import _textwrap

        wrapper = _textwrap.TextWrapper
    except (ImportError, AttributeError):  # a typer that wraps help otherwise: left as it is
        return
    if getattr(wrapper, "_natoma_entra", False):
        return

    class Wrapper(wrapper):
        _natoma_entra = True

        def __init__(self, *args, **kwargs):
            kwargs.update(break_on_hyphens=False, break_long_words=False)
            super().__init__(*args, **kwargs)

        # Click's own cuts every long word; the standard one keeps it whole when break_long_words is off
        _handle_long_word = textwrap.TextWrapper._handle_long_word

    _textwrap.TextWrapper = Wrapper


def first_paragraph(text: str) -> str:
    """A command's line in its group's list, whole (Click would cut it at the width, ending with "...")."""
    return " ".join(text.strip().split("\n\n")[0].split())


def plain_help(text: str) -> str:
    """Click rewraps each paragraph of a help text; a paragraph of examples keeps its lines (Click's \\b marker)."""
    paragraphs = text.strip().split("\n\n")
    return "\n\n".join(f"\b\n{p}" if p.lstrip().startswith("Example:") else p for p in paragraphs)
