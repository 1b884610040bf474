"""The errors every part of the CLI raises and reports in one line with the fix (Graph's own failure is
graph/errors.py GraphError, one kind of NatomaEntraError). Exit codes: README "Output and exit codes"."""
from __future__ import annotations


class NatomaEntraError(Exception):
    """An error the CLI reports in one line, with the fix."""

    exit_code = 1

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return with_fix(self.message, self.fix)


def with_fix(message: str, fix: str | None) -> str:
    """The one place an error and its fix become one line: the message ends as a sentence before "Fix:", so a message
    that ends in a word ("no terminal is attached to ask at") never runs into the fix ("ask at Fix: pass --yes")."""
    message = message.rstrip()
    if not fix:
        return message
    end = "" if message.endswith((".", "!", "?")) else "."
    return f"{message}{end} Fix: {fix}"


def error_line(message: str, fix: str | None = None, *, about: str | None = None) -> str:
    """`error: ABOUT: MESSAGE. Fix: FIX`, the one stderr line of a non-zero exit. ABOUT (the command) is said once:
    not again when the message already starts with it (the step `credentials` of the command `credentials`)."""
    if about and message != about and not message.startswith(f"{about}: "):
        message = f"{about}: {message}"
    return "error: " + with_fix(message, fix)


class UsageError(NatomaEntraError):
    """Bad input: unknown group, ambiguous app, malformed URL, missing token. Exit 2, nothing written."""

    exit_code = 2


class MissingInput(UsageError):
    """An input that was not given at all (no SCIM token from any source): a step that can do without it (a dry
    run, verified credentials) goes on; a bad input given (a token with whitespace inside) is a plain UsageError."""


class Interrupted(NatomaEntraError):
    """Ctrl-C: exit 130, naming what the run was doing."""

    exit_code = 130
    AGAIN = "run the same command again to continue from where the tenant is"  # the fix, said once
