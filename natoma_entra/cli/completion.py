"""`--show-completion [SHELL]` and `--install-completion [SHELL]`: typer's completion, with the shell as named.

typer's two flags take no value and detect the shell from the process tree: `--show-completion zsh` typed in bash
printed bash's script, and where no shell can be detected (a pipeline, a container's entrypoint, CI) they said
"Shell  not supported." and exited 1. Here a shell named after the flag is used as given; without one the current
shell is detected, and when it cannot be, one line says how to name it (exit 2). The scripts and the installation
are typer's own; a typer without these helpers is left to do as it does.
"""
from __future__ import annotations

import sys

from ..errors import UsageError

SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")
PROG = "natoma-entra"
COMPLETE_VAR = "_NATOMA_ENTRA_COMPLETE"
FLAGS = {"--show-completion": "show", "--install-completion": "install"}


HELP = {"install_completion": "Install completion for the current shell, or for SHELL named after it (bash, zsh, fish, "
                                "powershell).",
        "show_completion": "Print the completion script for the current shell, or for SHELL named after it (bash, zsh, "
                             "fish, powershell), e.g. --show-completion bash >> ~/.bashrc."}


def describe(command) -> None:
    """The two flags' help says that a shell may follow them (handle() reads it)."""
    for param in command.params:
        if param.name in HELP:
            param.help = HELP[param.name]


def requested(args: list[str]) -> tuple[str, str | None] | None:
    """("show" or "install", the shell named or None) when the command line asks for completion, else None."""
    for i, arg in enumerate(args):
        if arg == "--":
            return None
        name, eq, value = arg.partition("=")
        if name in FLAGS:
            if eq:
                return FLAGS[name], value
            following = args[i + 1] if i + 1 < len(args) else None
            return FLAGS[name], (following if following and not following.startswith("-") else None)
    return None


def handle(args: list[str]) -> None:
    """Show or install the completion asked for, then exit 0; a shell that cannot be told or is unknown is bad usage.
    Returns (doing nothing) when nothing is asked, or when typer's helpers are not where this expects them."""
    asked = requested(args)
    if asked is None:
        return
    try:
        from typer._completion_shared import _get_shell_name, get_completion_script, install
    except ImportError:  # a typer whose internals moved: its own flags answer
        return
    kind, shell = asked
    if shell is None:
        shell = _get_shell_name()
        if shell is None:
            raise UsageError("cannot tell which shell this is (no shell among the parent processes)",
                             fix=f"name it: natoma-entra {'--show-completion' if kind == 'show' else '--install-completion'}"
                                 " bash (or zsh, fish, powershell)")
    if shell not in SHELLS:
        raise UsageError(f"{shell!r} is not a shell natoma-entra completes",
                         fix="use bash, zsh, fish or powershell (pwsh)")
    if kind == "show":
        sys.stdout.write(get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell) + "\n")
    else:
        shell, path = install(shell=shell, prog_name=PROG, complete_var=COMPLETE_VAR)
        sys.stdout.write(f"{shell} completion installed in {path}\n"
                         "Completion will take effect once you restart the terminal\n")
    sys.exit(0)
