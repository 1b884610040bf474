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
        return self.message + (f" Fix: {self.fix}" if self.fix else "")


class UsageError(NatomaEntraError):
    """Bad input: unknown group, ambiguous app, malformed URL, missing token. Exit 2, nothing written."""

    exit_code = 2


class MissingInput(UsageError):
    """An input that was not given at all (no SCIM token from any source): a step that can do without it (a dry
    run, verified credentials) goes on; a bad input given (a token with whitespace inside) is a plain UsageError."""


class Interrupted(NatomaEntraError):
    """Ctrl-C: exit 130, naming what the run was doing."""

    exit_code = 130
