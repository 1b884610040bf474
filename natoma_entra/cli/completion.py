"""Shell completion: `--show-completion [SHELL]` and `--install-completion [SHELL]`, and the values the options offer.

typer's two flags take no value and detect the shell from the process tree: `--show-completion zsh` typed in bash
printed bash's script, and where no shell can be detected (a pipeline, a container's entrypoint, CI) they said
"Shell  not supported." and exited 1. Here a shell named after the flag is used as given; without one the current
shell is detected (shellingham, as typer does), and when it cannot be, one line says how to name it (exit 2).

The script is typer's own, asked for through the completion protocol the scripts themselves use (the variable
_NATOMA_ENTRA_COMPLETE, here `source_<shell>`); it is installed where typer's --install-completion puts it.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import UsageError

SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")
PROG = "natoma-entra"
COMPLETE_VAR = "_NATOMA_ENTRA_COMPLETE"
FLAGS = {"--show-completion": "show", "--install-completion": "install"}


HELP = {"install_completion": "Install completion for the current shell, or for SHELL named after it (bash, zsh, fish, "
                                "powershell).",
        "show_completion": "Print the completion script for the current shell, or for SHELL named after it (bash, zsh, "
                             "fish, powershell), e.g. --show-completion bash >> ~/.bashrc."}


def describe(command: Any) -> None:
    """The two flags' help says that a shell may follow them (handle() reads it)."""
    for param in command.params:
        if param.name in HELP:
            param.help = HELP[param.name]


# -- the values an option offers (typer's `autocompletion=`; typer offers an Enum's members by itself) ---------------
def _starting(values: tuple[str, ...], incomplete: str) -> list[str]:
    return [v for v in values if v.startswith(incomplete)]


def clouds(incomplete: str) -> list[str]:
    """--cloud: the clouds natoma-entra signs in to (config.Cloud)."""
    from typing import get_args

    from ..config import Cloud  # at a Tab press only: config imports pydantic

    return _starting(get_args(Cloud), incomplete)


def auth_methods(incomplete: str) -> list[str]:
    """--auth: the sign-in methods (config.Auth)."""
    from typing import get_args

    from ..config import Auth

    return _starting(get_args(Auth), incomplete)


SCOPES = ("assigned", "all")  # config.ScimConfig.scope, here without pydantic (a test holds the two equal)


def scopes(incomplete: str) -> list[str]:
    """--scope: who is provisioned."""
    return _starting(SCOPES, incomplete)


# -- --show-completion / --install-completion ---------------------------------------------------------------------
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


def current_shell() -> str | None:
    """The shell this runs under, lower case, or None where none can be told (typer detects it the same way)."""
    import shellingham  # type: ignore[import-untyped]  # typer's own dependency, untyped

    try:
        name, _path = shellingham.detect_shell()
    except shellingham.ShellDetectionFailure:
        return None
    return str(name).lower()


def script(command: Any, shell: str) -> str:
    """typer's completion script for `shell`: what the program prints when the completion variable asks for it."""
    out, saved = io.StringIO(), os.environ.get(COMPLETE_VAR)
    os.environ[COMPLETE_VAR] = f"source_{shell}"
    try:
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            command.main(args=[], prog_name=PROG, complete_var=COMPLETE_VAR)
    finally:
        if saved is None:
            del os.environ[COMPLETE_VAR]
        else:
            os.environ[COMPLETE_VAR] = saved
    return out.getvalue().strip()


def _add_line(rc: Path, line: str) -> None:
    """`line` in the shell's start-up file, once."""
    text = rc.read_text() if rc.is_file() else ""
    if line not in text:
        rc.parent.mkdir(parents=True, exist_ok=True)
        rc.write_text(f"{text.rstrip()}\n{line}\n" if text.strip() else f"{line}\n")


def install(shell: str, text: str) -> Path:
    """The script where the shell loads it, as typer's --install-completion places it; returns its path."""
    home = Path.home()
    if shell == "bash":
        path = home / ".bash_completions" / f"{PROG}.sh"
        _add_line(home / ".bashrc", f"source '{path}'")
    elif shell == "zsh":
        path = home / ".zfunc" / f"_{PROG}"
        _add_line(home / ".zshrc", "fpath+=~/.zfunc; autoload -Uz compinit; compinit")
        if "zstyle" not in (home / ".zshrc").read_text():  # a menu, unless the user styles completion already
            _add_line(home / ".zshrc", "zstyle ':completion:*' menu select")
    elif shell == "fish":
        path = home / ".config" / "fish" / "completions" / f"{PROG}.fish"
    else:  # PowerShell: appended to the user's profile, which PowerShell names; scripts allowed to run, as typer does
        import subprocess

        subprocess.run([shell, "-Command", "Set-ExecutionPolicy", "Unrestricted", "-Scope", "CurrentUser"])
        found = subprocess.run([shell, "-NoProfile", "-Command", "echo", "$profile"], capture_output=True, text=True)
        if found.returncode != 0 or not found.stdout.strip():
            raise UsageError(f"{shell} did not name its profile", fix=f"run {PROG} --show-completion {shell} and add "
                                                                      "the script to your profile yourself")
        path = Path(found.stdout.strip())
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as profile:
            profile.write(f"{text}\n")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{text}\n")
    return path


def handle(args: list[str], command: Any) -> None:
    """Show or install the completion asked for, then exit 0; a shell that cannot be told or is unknown is bad usage.
    Returns (doing nothing) when nothing is asked."""
    asked = requested(args)
    if asked is None:
        return
    kind, shell = asked
    if shell is None:
        shell = current_shell()
        if shell is None:
            raise UsageError("cannot tell which shell this is (no shell among the parent processes)",
                             fix=f"name it: natoma-entra {'--show-completion' if kind == 'show' else '--install-completion'}"
                                 " bash (or zsh, fish, powershell)")
    if shell not in SHELLS:
        raise UsageError(f"{shell!r} is not a shell natoma-entra completes",
                         fix="use bash, zsh, fish or powershell (pwsh)")
    text = script(command, shell)
    if kind == "show":
        sys.stdout.write(text + "\n")
    else:
        path = install(shell, text)
        sys.stdout.write(f"{shell} completion installed in {path}\n"
                         "Completion will take effect once you restart the terminal\n")
    sys.exit(0)
