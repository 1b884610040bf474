"""A loopback HTTP server for the sandbox: Graph under ``/v1.0``, Natoma's SCIM stand-in under ``/scim/v2``.

For rehearsing a pipeline with ``--graph-endpoint http://127.0.0.1:PORT/v1.0`` (docs/sandbox.md). Loopback only:
the server holds a tenant anyone could rewrite and takes a well-known bearer token. When given a state file path it
saves the tenant after every write (Graph or SCIM), so ``natoma-entra --sandbox`` runs and the server can share it.
"""

from __future__ import annotations

import io
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

from natoma_entra.graph.clouds import is_loopback
from natoma_entra.errors import UsageError
from natoma_entra.sandbox.graph import GraphHandler
from natoma_entra.sandbox.state import ACCESS_TOKEN, Tenant, state_lock, state_path as _state_path

GRAPH_PREFIX = "/v1.0"
SCIM_PREFIX = "/scim/v2"
MAX_BODY = 10 * 1024 * 1024  # no Graph or SCIM request of ours comes near this
# a client dropping the connection is normal for a test server: no traceback, at most one log line
_DROPPED = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, TimeoutError)


def check_serve_options(host: str, port: int) -> None:
    """`sandbox serve --host/--port` checked before anything is loaded or bound: UsageError (exit 2) otherwise."""
    if not is_loopback(host):
        raise UsageError(f"--host {host} is not a loopback address", fix="use 127.0.0.1, ::1 or localhost")
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise UsageError(f"--port {port} is not a TCP port", fix="use a port from 1 to 65535 (0 picks a free one), "
                                                                 "e.g. --port 8080")


class SandboxServer(ThreadingHTTPServer):
    """The server object: ``.url`` (``http://127.0.0.1:PORT``), ``.tenant``, ``.graph`` (the GraphHandler)."""

    daemon_threads = True

    def __init__(self, tenant: Tenant, host: str, port: int, *, state_path: Path | None = None,
                 access_token: str = ACCESS_TOKEN):
        if not is_loopback(host):
            raise ValueError(f"The sandbox server listens on loopback only (127.0.0.1, ::1, localhost), not {host!r}.")
        if ":" in host.strip("[]"):
            self.address_family = __import__("socket").AF_INET6
        self.tenant = tenant
        self.state_path = state_path
        self.lock = threading.RLock()
        self.graph = GraphHandler(tenant, access_token=access_token, on_write=self.save, raise_errors=False)
        super().__init__((host.strip("[]"), port), _RequestHandler)
        h = host.strip("[]")
        self.url = f"http://{'[' + h + ']' if ':' in h else h}:{self.server_address[1]}"

    def save(self) -> None:
        if self.state_path is not None:
            self.tenant.save(self.state_path)
            self._seen = self._stamp()

    def _stamp(self) -> tuple[int, int] | None:
        if self.state_path is None:
            return None
        try:
            st = os.stat(self.state_path)
            return (st.st_mtime_ns, st.st_size)
        except OSError:
            return None

    def refresh(self) -> None:
        """Reload the state file when someone else wrote it (`sandbox reset`, a `--sandbox` run on the same file),
        so the server never overwrites their change with its older copy. Called under the file's writer lock."""
        if self.state_path is None:
            return
        stamp = self._stamp()
        if stamp is not None and stamp != getattr(self, "_seen", None):
            self.tenant.reload(self.state_path)
            self._seen = stamp

    def file_lock(self):
        """The state file's writer lock for one request (read the file, answer, save): a `--sandbox` run holding
        the lock for its whole run is waited for, never interleaved with."""
        import contextlib

        return state_lock(self.state_path) if self.state_path is not None else contextlib.nullcontext()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line instead of socketserver's traceback; nothing at all for a client that hung up."""
        exc = sys.exc_info()[1]
        if isinstance(exc, _DROPPED):
            if os.environ.get("NATOMA_ENTRA_SANDBOX_LOG"):
                sys.stderr.write(f"sandbox: {client_address[0]} dropped the connection\n")
            return
        sys.stderr.write(f"sandbox: request from {client_address[0]} failed: {type(exc).__name__}: {exc}\n")

    def scim_app(self) -> Callable[..., Any]:
        from natoma_entra.sandbox.natoma import standin_for

        return standin_for(self.tenant).wsgi_app

    def scim_written(self) -> None:
        from natoma_entra.sandbox.natoma import save_standin, standin_for

        save_standin(self.tenant, standin_for(self.tenant))
        self.save()


class _BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class _RequestHandler(BaseHTTPRequestHandler):
    server: SandboxServer
    protocol_version = "HTTP/1.1"
    timeout = 60  # seconds a silent client may hold a connection
    # TCP_NODELAY: a response is written as headers then body; with Nagle's algorithm the body waits for the
    # client's delayed ACK (about 40 ms on Linux) on every request of a kept-alive connection
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if os.environ.get("NATOMA_ENTRA_SANDBOX_LOG"):
            sys.stderr.write("sandbox: " + (format % args) + "\n")

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002 - the request line is logged already
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except _DROPPED:
            self.close_connection = True

    def _body(self) -> bytes:
        raw = self.headers.get("Content-Length") or "0"
        if not raw.isdigit():
            raise _BadRequest(400, "Content-Length is not a number")
        length = int(raw)
        if length > MAX_BODY:
            raise _BadRequest(413, f"request body over {MAX_BODY} bytes")
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, headers: dict[str, str] | list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        items = headers.items() if isinstance(headers, dict) else headers
        for k, v in items:
            # Date: send_response sent the server's own (the served tenant's time is the real time)
            if k.lower() not in ("content-length", "connection", "transfer-encoding", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _dispatch(self) -> None:
        try:
            body = self._body()
        except _BadRequest as e:
            self.close_connection = True
            self._send(e.status, {"Content-Type": "text/plain"}, f"{e}\n".encode())
            return
        try:
            status, headers, content = self._answer(body)
        except _DROPPED:
            raise
        except Exception as e:  # noqa: BLE001 - a bug in the simulation answers 500 in one line, not a traceback
            sys.stderr.write(f"sandbox: {self.command} {urlsplit(self.path).path} failed: {type(e).__name__}: {e}\n")
            status, headers = 500, {"Content-Type": "application/json"}
            content = json.dumps({"error": {"code": "InternalServerError",
                                            "message": f"sandbox error: {type(e).__name__}"}}).encode()
        self._send(status, headers, content)

    def _answer(self, body: bytes) -> tuple[int, dict[str, str] | list[tuple[str, str]], bytes]:
        path = urlsplit(self.path).path
        headers: dict[str, str] | list[tuple[str, str]]
        with self.server.lock, self.server.file_lock():
            self.server.refresh()
            if path == GRAPH_PREFIX or path.startswith(GRAPH_PREFIX + "/"):
                status, headers, content = self.server.graph.handle(
                    self.command, self.server.url + self.path, dict(self.headers.items()), body)
            elif path == SCIM_PREFIX or path.startswith(SCIM_PREFIX + "/"):
                status, headers, content = self._scim(body)
                if self.command not in ("GET", "HEAD") and status < 400:
                    self.server.scim_written()
            else:
                status, headers, content = 404, {"Content-Type": "text/plain"}, (
                    f"Not found: the sandbox serves Graph under {GRAPH_PREFIX} and SCIM under {SCIM_PREFIX}.\n"
                ).encode()
        return status, headers, content

    def _scim(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        parts = urlsplit(self.path)
        environ = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(parts.path),
            "QUERY_STRING": parts.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "SERVER_NAME": self.server.server_address[0],
            "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for k, v in self.headers.items():
            key = "HTTP_" + k.upper().replace("-", "_")
            if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                environ[key] = v
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            captured["status"], captured["headers"] = int(status.split()[0]), headers
            return lambda data: None

        chunks = self.server.scim_app()(environ, start_response)
        try:
            content = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
        return captured["status"], captured["headers"], content

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch


def make_server(tenant_path_or_tenant: str | os.PathLike[str] | Tenant | None = None, host: str = "127.0.0.1",
                port: int = 8080, *, access_token: str = ACCESS_TOKEN, options: Any = None) -> SandboxServer:
    """Build (bind, not start) the server. A path loads the tenant from that JSON file (a fresh initial tenant when
    the file does not exist yet, saved at once) and saves it after each write; a Tenant is served in memory.
    ``options`` (a SandboxOptions) sets the loaded tenant's knobs: variants, replication, denied permissions."""
    state_path: Path | None = None
    kw = options.tenant_options() if options is not None else {}
    if isinstance(tenant_path_or_tenant, Tenant):
        tenant = tenant_path_or_tenant
    elif tenant_path_or_tenant is None:
        tenant = Tenant.initial(**kw)
    else:
        state_path = _state_path(tenant_path_or_tenant)
        tenant = Tenant.open(state_path, **kw)  # a damaged state file: exit 2 with the fix, before binding
    try:
        server = SandboxServer(tenant, host, port, state_path=state_path, access_token=access_token)
    except (OSError, OverflowError) as e:  # port in use, not allowed, or out of range
        import errno

        if isinstance(e, OverflowError):
            reason = "is not a TCP port"
        elif e.errno == errno.EADDRINUSE:
            reason = "is in use"
        else:
            reason = f"cannot be used ({e.strerror or e})"
        raise UsageError(f"--port {port} on {host} {reason}", fix="choose another --port (or stop the program using it)") from None
    with server.file_lock():
        server.refresh()  # someone may have written the file since it was opened
        server.save()
    return server


def serve(tenant_path_or_tenant: str | os.PathLike[str] | Tenant | None = None, host: str = "127.0.0.1",
          port: int = 8080, *, access_token: str = ACCESS_TOKEN,
          ready: Callable[[SandboxServer], None] | None = None, options: Any = None) -> None:
    """Serve until interrupted (Ctrl-C). ``ready(server)`` is called once the socket is bound (e.g. to print URLs)."""
    check_serve_options(host, port)
    server = make_server(tenant_path_or_tenant, host, port, access_token=access_token, options=options)
    if ready is not None:
        ready(server)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
