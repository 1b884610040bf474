"""What is answered before typer parses the command line: a command's --help, a word that is not a command, a bad
output format. Each needs no option converted, and typer 0.29 converts every global option it parses through a
pydantic TypeAdapter (about 100 ms, with no public way around it: docs/performance.md "Start-up"); so these come from
the commands through Click's public API, with typer's and Click's own words, and only when nothing typer would check
first is given. Anything else goes through typer whole (natoma_entra/cli/main.py run)."""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from typer.core import TyperGroup

from .help_format import HELP_SETTINGS
from .main import FLAG_OPTIONS, OUTPUT_ENV, VALUE_OPTIONS


def bad_output(value: str, where: str) -> tuple[str, str]:
    """A value of --output (or of NATOMA_ENTRA_OUTPUT) that is not a format, as (message, fix)."""
    return (f"{where} {value!r} is not an output format (text, json or markdown)",
            f"use --output text, --output json or --output markdown (or set {OUTPUT_ENV} to one of them)")


def output_format(args: Sequence[str]) -> tuple[str, str] | None:
    """(the output format, where it comes from) when typer would convert it before any other global option: the last
    --output/-o among the global options (in front, hoist_globals put them there), else NATOMA_ENTRA_OUTPUT (Click
    reads an empty variable as unset). Click converts the options given in the order they first appear, then the
    others; so None when another option with a value comes first (its value is converted first), when an eager option
    is given (--version, --help: answered before any conversion), when an option lacks its value or is not plain (a
    cluster such as -vq: Click's parser speaks first), and for an empty command line (typer shows the help without
    reading any option; a shell asking for completions runs the program so). typer reads those itself."""
    if not args:
        return None
    value, where = os.environ.get(OUTPUT_ENV) or None, OUTPUT_ENV
    converted_before = False  # an option with a value, ahead of --output in Click's order
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "--":
        name, eq, given = args[i].partition("=")
        if args[i] in ("--version", *HELP_SETTINGS["help_option_names"]):
            return None
        if args[i] == "-o" or name == "--output" or (args[i].startswith("-o") and not args[i].startswith("--")):
            if args[i] == "-o" or name == "--output":
                if not eq and i + 1 >= len(args):
                    return None
                value, i = (given, i + 1) if eq else (args[i + 1], i + 2)
            else:  # Click reads -ojson (and -o=json, as "=json") so
                value, i = args[i][2:], i + 1
            if where == OUTPUT_ENV and converted_before:
                return None
            where = "--output"
        elif name in VALUE_OPTIONS:
            if not eq and i + 1 >= len(args):
                return None
            converted_before = converted_before or where == OUTPUT_ENV
            i += 1 if eq else 2
        elif args[i] in FLAG_OPTIONS:
            i += 1
        else:
            return None
    if where == OUTPUT_ENV and converted_before:
        return None  # the variable's value is converted after every option given
    return (value, where) if value is not None else None


def command_help(command: Any, args: Sequence[str]) -> str | None:
    """What typer would answer without running anything, when no global option is given (nor one of their
    variables): the help of `natoma-entra CMD [SUB] --help`, returned, and for a word that is not a command Click's
    own usage error ("No such command 'bogus'. Did you mean 'logs'?"), raised. There is then nothing to check before
    either, so they come from the commands through Click's public API, without parsing the global options (typer
    converts each through pydantic, ~100 ms: docs/performance.md). None otherwise: the command line then goes through
    typer whole."""
    names = HELP_SETTINGS["help_option_names"]
    if not args or args[0].startswith("-"):
        return None
    variables = [v for p in command.params for v in ([p.envvar] if isinstance(p.envvar, str) else p.envvar or [])]
    if any(os.environ.get(v) for v in variables):
        return None
    # as Click's Command.make_context builds each level's context, less the parsing
    ctx = command.context_class(command, info_name="natoma-entra", **command.context_settings)
    words = list(args)
    while words and isinstance(ctx.command, TyperGroup) and not words[0].startswith("-"):
        sub = ctx.command.get_command(ctx, words[0])
        if sub is None:
            ctx.command.resolve_command(ctx, words)  # raises Click's "No such command" with typer's suggestion
            return None
        ctx = sub.context_class(sub, info_name=words.pop(0), parent=ctx, **sub.context_settings)
    if words == [names[0]] or words == [names[1]]:
        return str(ctx.get_help())
    return None
