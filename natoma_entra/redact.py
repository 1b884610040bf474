"""Secrets never leave the process: every line we print passes through here.

Secrets are registered the moment they are read (SCIM token, access token, client secret, every token a credential
hands out); any output containing one prints '***' instead. This is the last line of defence: no code path is meant
to print a secret in the first place.

A secret can reach output in another spelling than the raw one: JSON-escaped (an error document), repr/bytes-escaped
("Illegal header value b'Bearer ...'"), URL-encoded (a query string echoed back) or cut short (an error body
truncated at 200 characters). Each spelling is masked, and so is any run of 16 or more characters that is the start
of one (a truncated token).
"""
from __future__ import annotations

import json
import logging
from urllib.parse import quote, quote_plus

from .errors import UsageError

_SECRETS: set[str] = set()  # every spelling of every registered secret
MIN_PREFIX = 16  # a cut-off secret is masked from this many characters on (shorter runs match ordinary words)
TOKEN_CAP = 16 * 1024  # no bearer token is this long; a bigger input is a wrong file (/dev/zero, a log, a binary)


def _spellings(secret: str) -> set[str]:
    out = {secret, json.dumps(secret)[1:-1], repr(secret)[1:-1], quote(secret, safe=""), quote(secret),
           quote_plus(secret), secret.encode("unicode_escape").decode("ascii")}
    try:
        out.add(repr(secret.encode("utf-8", "surrogateescape"))[2:-1])  # b'...' form
    except UnicodeError:
        pass
    return {s for s in out if s}


def register(secret: str | None) -> None:
    if not secret:
        return
    for s in {secret, secret.strip()}:
        if len(s) >= 4:  # a 1-3 character "secret" would mask ordinary words
            _SECRETS.update(_spellings(s))


def redact(text: str) -> str:
    if not _SECRETS or not text:
        return text
    for s in sorted(_SECRETS, key=len, reverse=True):
        if len(s) < MIN_PREFIX:
            if s in text:
                text = text.replace(s, "***")
            continue
        text = _mask_prefixes(text, s)
    return text


def _mask_prefixes(text: str, secret: str) -> str:
    """Mask every run of text that is the first MIN_PREFIX or more characters of `secret` (the whole of it too)."""
    head = secret[:MIN_PREFIX]
    i = text.find(head)
    while i != -1:
        n = MIN_PREFIX
        while n < len(secret) and i + n < len(text) and text[i + n] == secret[n]:
            n += 1
        text = text[:i] + "***" + text[i + n:]
        i = text.find(head, i + 3)
    return text


def clean_token(raw: str, *, what: str, where: str, fix: str) -> str:
    """A bearer token as read from `where` (an environment variable's name, a file, the prompt): surrounding whitespace
    stripped; refused (UsageError, exit 2) when empty, too long, or holding whitespace, a control or a non-ASCII
    character inside. The message names the source, never the value; the value is registered for redaction first."""
    register(raw)
    if len(raw) > TOKEN_CAP:
        raise UsageError(f"{what} from {where} is longer than {TOKEN_CAP // 1024} KiB: that is not a token", fix=fix)
    token = raw.strip()
    register(token)
    if not token:
        raise UsageError(f"{what} from {where} is empty", fix=fix)
    if any(not c.isascii() for c in token):
        raise UsageError(f"{what} from {where} contains a non-ASCII character", fix=fix)
    if any(ord(c) < 33 or ord(c) == 127 for c in token):
        raise UsageError(f"{what} from {where} contains whitespace or a control character inside it", fix=fix)
    return token


class RedactingFilter(logging.Filter):
    """The --verbose trace: secrets masked, and the line made inert (a URL or a server's reason phrase is data)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from .inert import clean

        record.msg = clean(record.getMessage())
        record.args = ()
        return True
