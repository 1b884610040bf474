"""--trace FILE (NATOMA_ENTRA_TRACE): every Graph and SCIM exchange of a run as one JSON line each, to attach to a
support request (as azure-cli's --debug or Terraform's TF_LOG_PATH serve).

A line: {"time", "kind": "graph"|"scim", "method", "url", "status", "duration_ms", "request": {"headers", "body"},
"response": {"headers", "body"}}; each run starts with a {"kind": "run", ...} line. What never lands in the file:
- the Authorization header (and cookies): dropped, whatever the case of their names;
- a secret value in a body: the values of the synchronization secret keys that hold secrets (SecretToken, Password,
  ClientSecret, ...; "synchronizationSecretKeyStringValuePair resource type" on learn.microsoft.com/graph) in a
  secrets PUT or a validateCredentials body are masked by key, and every line (ASCII only, inert.json_text) also
  passes through redact.redact(), which masks every secret the run registered (the SCIM token, the access token, a
  client secret) in every spelling;
- more than MAX_BODY characters of a body: the rest is cut, and the line says how much there was.

The file: created with mode 0600 (an existing one is tightened to 0600) and appended to, so several runs can share
it; a symbolic link is refused (not followed), and so is anything that is not a regular file (a FIFO, a device, a
directory), before anything is written. Bad path: UsageError, exit 2.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import urlencode

from .errors import UsageError
from .inert import json_text
from .redact import redact

ENV = "NATOMA_ENTRA_TRACE"
MAX_BODY = 64 * 1024  # characters of one body kept (a schema is ~40 KB; a page of 999 members can be megabytes)
DROPPED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
# synchronizationSecret keys whose values are secrets (the rest, BaseAddress or SyncAll, are settings)
SECRET_KEYS = frozenset({"SecretToken", "Password", "ClientSecret", "AppKey", "ConsumerSecret", "TokenKey",
                         "Oauth2AccessToken", "Oauth2RefreshToken", "Oauth2ClientSecret", "Oauth2AuthorizationCode",
                         "ConnectionString"})
MASK = "***"
_START = "natoma_entra.trace.start"  # the request extension holding its send time


def _masked(doc: Any) -> Any:
    """A JSON document with every {"key": <secret key>, "value": ...} value masked, recursively."""
    if isinstance(doc, list):
        return [_masked(v) for v in doc]
    if isinstance(doc, dict):
        secret = isinstance(doc.get("key"), str) and doc["key"] in SECRET_KEYS and "value" in doc
        return {k: (MASK if secret and k == "value" and v else _masked(v)) for k, v in doc.items()}
    return doc


def body_of(content: bytes | str | None, parsed: Any = None) -> Any:
    """A body for the trace: its JSON (secret values masked) when it is JSON, else its text; cut at MAX_BODY."""
    if parsed is not None:
        doc: Any = _masked(parsed)
    elif not content:
        return None
    else:
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
        try:
            doc = _masked(json.loads(text))
        except ValueError:
            doc = text
    if isinstance(doc, str):
        return doc if len(doc) <= MAX_BODY else {"truncated": True, "chars": len(doc), "text": doc[:MAX_BODY]}
    text = json.dumps(doc)
    if len(text) <= MAX_BODY:
        return doc
    return {"truncated": True, "chars": len(text), "text": text[:MAX_BODY]}


def headers_of(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> dict[str, str]:
    """Headers as a dict, without Authorization and cookies."""
    multi = getattr(headers, "multi_items", None)  # httpx
    many = getattr(headers, "items", None)  # a Mapping, wsgiref's or werkzeug's Headers
    items: Iterable[Any] = multi() if callable(multi) else many() if callable(many) else (headers or [])
    return {str(k): str(v) for k, v in items if str(k).lower() not in DROPPED_HEADERS}


def open_file(path: str | os.PathLike[str]):
    """The trace file, opened to append, 0600, refusing a symlink or anything not a regular file."""
    p = Path(path).expanduser()
    fix = "give --trace (or NATOMA_ENTRA_TRACE) the path of a regular file, or of a new one"
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise UsageError(f"--trace {p} cannot be used ({e.strerror or e})", fix=fix) from None
    if st is not None and stat.S_ISLNK(st.st_mode):
        raise UsageError(f"--trace {p} is a symbolic link; it is not followed", fix=fix)
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise UsageError(f"--trace {p} is not a regular file", fix=fix)
    flags = (os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
             | getattr(os, "O_CLOEXEC", 0))
    try:
        fd = os.open(p, flags, 0o600)
    except OSError as e:  # ELOOP: a symlink put there meanwhile; ENXIO: a FIFO; EACCES, ENOENT (no directory)
        raise UsageError(f"--trace {p} cannot be opened ({e.strerror or e})", fix=fix) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UsageError(f"--trace {p} is not a regular file", fix=fix)
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # it holds the tenant's names: readable by its owner only
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "a", encoding="utf-8")


class Trace:
    """One open trace file. Thread-safe (SCIM pages are read from threads)."""

    def __init__(self, path: str | os.PathLike[str]):
        from . import __version__

        self.path = Path(path).expanduser()
        self._file = open_file(self.path)
        self._lock = threading.Lock()
        import platform
        import sys

        self._write({"time": _now(), "kind": "run", "natoma_entra": __version__,
                     "python": sys.version.split()[0], "platform": platform.platform()})

    def _write(self, record: dict[str, Any]) -> None:
        line = redact(json_text(record, default=str))  # ASCII only: the tenant's names stay inert (inert.py)
        with self._lock:
            if self._file.closed:
                return
            self._file.write(line + "\n")
            self._file.flush()

    def exchange(self, kind: str, method: str, url: str, status: int | None, seconds: float | None,
                 request_headers: Any, request_body: Any, response_headers: Any, response_body: Any) -> None:
        self._write({"time": _now(), "kind": kind, "method": method, "url": url, "status": status,
                     "duration_ms": round(seconds * 1000, 1) if seconds is not None else None,
                     "request": {"headers": headers_of(request_headers), "body": request_body},
                     "response": {"headers": headers_of(response_headers), "body": response_body}})

    def _failed(self, kind: str, method: str, url: str, error: Exception) -> None:
        """Recording an exchange failed (an answer of a shape not foreseen): say so in the file, never fail the run."""
        try:
            self._write({"time": _now(), "kind": kind, "method": method, "url": url,
                         "trace_error": f"{type(error).__name__}: the exchange could not be recorded"})
        except Exception:  # noqa: BLE001 - the trace is a by-product of the run
            pass

    # -- Graph: httpx event hooks on the GraphClient's AsyncClient ------------------------------------------------
    def httpx_hooks(self) -> dict[str, list[Any]]:
        """httpx event hooks recording each exchange as the client sends it (after the SDK's middleware signed it,
        so the headers are the real ones; the Authorization header is then dropped)."""

        async def on_request(request: Any) -> None:
            request.extensions[_START] = time.monotonic()

        async def on_response(response: Any) -> None:
            await response.aread()  # the body is cached: the client reads it again as usual
            request = response.request
            started = request.extensions.get(_START)
            try:
                self.exchange("graph", request.method, str(request.url), response.status_code,
                              time.monotonic() - started if started is not None else None,
                              request.headers, body_of(_request_content(request)),
                              response.headers, body_of(response.content))
            except Exception as e:  # noqa: BLE001 - the trace is a by-product of the run
                self._failed("graph", request.method, str(request.url), e)

        return {"request": [on_request], "response": [on_response]}

    # -- SCIM: natoma_scim's clients call this for each request ---------------------------------------------------
    def scim(self, method: str, url: str, kwargs: Mapping[str, Any], response: Any, seconds: float,
             sent_headers: Any) -> None:
        try:
            params = kwargs.get("params")
            if params:
                url += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
            body = body_of(kwargs.get("content"), kwargs.get("json"))
            self.exchange("scim", method.upper(), url, getattr(response, "status_code", None), seconds, sent_headers,
                          body, getattr(response, "headers", None), body_of(getattr(response, "content", None)))
        except Exception as e:  # noqa: BLE001 - the trace is a by-product of the run
            self._failed("scim", method.upper(), url, e)

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()


def _request_content(request: Any) -> bytes | None:
    try:
        return request.content
    except Exception:  # noqa: BLE001 - a streamed body not read yet: the trace goes without it
        return None


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
