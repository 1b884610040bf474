"""Where the SCIM token comes from: never a flag value (it would land in shell history and process lists).

In order: --scim-token-stdin, --scim-token-file PATH (or scim.token_file in the config), the environment variable
scim.token_env names (NATOMA_SCIM_TOKEN by default), the backend's default (the sandbox's own token under
--sandbox; none for a real tenant), and last a hidden prompt, only when a person is at the terminal. The token is read lazily (only when a step must test or write a new
one), once, stripped of surrounding whitespace, and registered for redaction the moment it is read. Inputs are capped
(16 KiB: a token file pointing at /dev/zero or a log is refused after reading that much) and must be printable ASCII.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, Mapping, TextIO

import typer

from ..errors import MissingInput, UsageError
from ..redact import TOKEN_CAP, clean_token, register

WAYS = ("set {env} (or name another variable with scim.token_env in the config file), pass --scim-token-file PATH, "
        "or pipe it with --scim-token-stdin")


def _clean(raw: str, where: str) -> str:
    return clean_token(raw, what="the SCIM token", where=where,
                       fix="give only Natoma's SCIM bearer token there (one line of printable ASCII)")


def _read_capped(path: Path) -> str:
    from ..files import read_capped_text

    return read_capped_text(path, TOKEN_CAP, what="the SCIM token file",
                            fix="point --scim-token-file at the file holding only the token (or fix "
                                "scim.token_file in the config file)")


def _read_stdin(stdin) -> str:
    buffer = getattr(stdin, "buffer", None)
    try:
        if buffer is not None:
            data = buffer.read(TOKEN_CAP + 1)
            if len(data) > TOKEN_CAP:
                return data.decode("ascii", "replace")  # refused as too long by _clean
            return data.decode("utf-8")
        return stdin.read(TOKEN_CAP + 1)
    except (UnicodeDecodeError, ValueError):
        raise UsageError("the SCIM token from standard input is not text (binary or not UTF-8)",
                         fix="pipe only the token in") from None


def read_token(*, env_name: str = "NATOMA_SCIM_TOKEN", token_file: Path | None = None, use_stdin: bool = False,
               env: Mapping[str, str] | None = None, stdin: TextIO | None = None, fallback: str | None = None,
               prompt: Callable[[], str] | None = None) -> str:
    """Read the token now from the first source given; UsageError naming the ways when there is none."""
    env = os.environ if env is None else env
    stdin = sys.stdin if stdin is None else stdin
    if use_stdin:
        if stdin is None:
            raise UsageError("--scim-token-stdin: there is no standard input", fix="pipe the token in")
        return _clean(_read_stdin(stdin), "standard input")
    if token_file is not None:
        path = Path(token_file).expanduser()
        if path.is_dir():
            raise UsageError(f"the SCIM token file {path} is a directory",
                             fix="point --scim-token-file at the file holding only the token")
        return _clean(_read_capped(path), f"the file {path}")
    value = env.get(env_name)
    if value and value.strip():
        return _clean(value, f"${env_name}")
    if fallback:
        register(fallback)
        return fallback
    if stdin is not None and _isatty(stdin):
        ask = prompt or _prompt
        return _clean(ask(), "the prompt")
    raise MissingInput("no SCIM token given (needed to reach Natoma's SCIM endpoint)", fix=WAYS.format(env=env_name))


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _prompt(pause=None) -> str:
    # hidden input; the prompt itself goes to stderr so stdout stays data; the spinner stops while the admin types;
    # Ctrl-C stops the run there and then (natoma_entra/interrupts.py)
    import contextlib

    from ..interrupts import ctrl_c_stops_here

    with (pause or contextlib.nullcontext)(), ctrl_c_stops_here() as ctrl_c:
        try:
            return typer.prompt("Natoma SCIM token (input hidden)", hide_input=True, err=True, default="",
                                show_default=False)
        except typer.Abort:
            if ctrl_c.pressed:
                raise KeyboardInterrupt from None  # the run stops there, naming its step (cli/context.py)
            return ""  # the end of the input (Ctrl-D): no token was given


def token_source(config, *, use_stdin: bool = False, default: str | None = None, pause=None,
                 **kw) -> Callable[[], str]:
    """A lazy, memoised Session.scim_token: reads once, on first call. `config` is the merged Config (scim.token_env,
    scim.token_file: --scim-token-file merges there); `default` is the backend's (the last source before the
    prompt). `pause` stops the application's spinner during the prompt."""
    cache: list[str] = []
    if pause is not None and "prompt" not in kw:
        kw["prompt"] = lambda: _prompt(pause)

    def get() -> str:
        if not cache:
            cache.append(read_token(env_name=config.scim.token_env, token_file=config.scim.token_file,
                                    use_stdin=use_stdin, fallback=default, **kw))
        return cache[0]

    return get


def token_given(config, *, use_stdin: bool = False, env: Mapping[str, str] | None = None) -> bool:
    """Did the user point at a token explicitly (flag, config file or environment), without reading it?"""
    env = os.environ if env is None else env
    return bool(use_stdin or config.scim.token_file or (env.get(config.scim.token_env) or "").strip())
