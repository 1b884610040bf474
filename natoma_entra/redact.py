"""Secrets never leave the process: every line we print passes through here.

Secrets are registered the moment they are read (SCIM token, access token, client secret); any output containing one
prints '***' instead. This is the last line of defence: no code path is meant to print a secret in the first place.
"""
from __future__ import annotations

import logging

_SECRETS: set[str] = set()


def register(secret: str | None) -> None:
    if secret and len(secret) >= 4:  # a 1-3 character "secret" would mask ordinary words
        _SECRETS.add(secret)


def redact(text: str) -> str:
    for s in sorted(_SECRETS, key=len, reverse=True):
        if s in text:
            text = text.replace(s, "***")
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        return True
