"""Every read from Natoma's SCIM endpoint is bounded as the Graph client's are (graph/client.py): in time by the run's
budget (--timeout) and per request, and in size per answer, however the server answers (issue 22: a server that
trickles a byte every 5 s, twenty 10 MB pages, a 400 KB gzip body that inflates to 1.67 GB).

- Bounds: the run's remaining time (GraphClient.remaining), the size cap, and a stop flag the caller sets when it
  has given up, so a worker thread stops at its next chunk.
- hooks(): httpx2 event hooks for the network engine (they apply to every transport the client picks, a proxy's
  too): each request's timeouts are clamped to what is left of the run, and each answer's body is read through
  BoundedStream, which counts the bytes as sent and as decompressed (gzip and deflate are decoded here, with
  zlib's max_length, never more than the cap plus one byte), and checks the clock after every chunk.
- in_thread(): the blocking SCIM read run in a daemon thread the caller waits on for at most the time left, so the
  command ends on time even while a read is blocked in the socket (a trickle of header bytes, a read timeout not
  yet due). The thread, told to stop, ends at its next chunk or read timeout; a daemon thread never holds the
  process open.
"""
from __future__ import annotations

import asyncio
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, TypeVar

import httpx2

T = TypeVar("T")

# One answer, as sent and as decompressed. A page of 500 users as the audit asks for them (userName, active, roles)
# is ~150 KB; a server that sends whole users is followed with smaller pages (natoma_scim.iter_users). The cap also
# bounds memory: JSON parses to at most ~30 bytes of Python objects per byte (nested empty arrays, the worst shape),
# so four pages read side by side hold at most ~125 MB, whatever the server sends.
MAX_ANSWER_BYTES = 1024 * 1024
REQUEST_TIMEOUT = 100.0  # seconds, one request from send to its last byte (as the Graph client's)
HTTP_TIMEOUTS = {"connect": 10.0, "read": 60.0, "write": 60.0, "pool": 10.0}
ACCEPT_ENCODING = "gzip, deflate"  # what BoundedStream decodes; httpx2 would also ask for br and zstd if installed
DEFAULT_BUDGET = 300.0  # seconds: --timeout's default, when no run gives one
FIX_SERVER = ("check that scim.url is Natoma's SCIM endpoint (https://<tenant>.natoma.app/scim/v2); if it is, the "
              "server answered outside the SCIM protocol: report it to Natoma")


class ScimReadError(Exception):
    """One line naming what went wrong and the fix (exit 1 through the command's failed step)."""

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix


class AnswerTooLarge(ScimReadError):
    """An answer over the cap: a reader may ask again for less (a smaller page)."""


@dataclass
class Bounds:
    """What a run allows Natoma's SCIM reads. `remaining()` is the run's time left in seconds (the Graph client's
    budget: one --timeout for the whole run), `budget` the --timeout it was (for messages)."""

    remaining: Callable[[], float] = field(default_factory=lambda: _fresh_budget(DEFAULT_BUDGET))
    budget: float = DEFAULT_BUDGET
    clock: Callable[[], float] = time.monotonic
    max_bytes: int = MAX_ANSWER_BYTES
    request_timeout: float = REQUEST_TIMEOUT
    stop: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def of(cls, graph: Any) -> "Bounds":
        """The bounds of a run whose Graph client is `graph`: the same budget, counted from the same start."""
        return cls(remaining=graph.remaining, budget=float(graph.deadline))

    def left(self, host: str) -> float:
        """Seconds left for the next request; out of time (or told to stop) is a ScimReadError."""
        left = self.remaining()
        if left <= 0 or self.stop.is_set():
            raise out_of_time(host, self.budget)
        return left


def _fresh_budget(seconds: float) -> Callable[[], float]:
    start = time.monotonic()
    return lambda: seconds - (time.monotonic() - start)


def out_of_time(host: str, budget: float) -> ScimReadError:
    return ScimReadError(f"Natoma's SCIM endpoint at {host} did not finish answering within this run's --timeout of "
                         f"{budget:g} s",
                         fix="raise --timeout (or NATOMA_ENTRA_TIMEOUT) if Natoma is slow, or check its SCIM "
                             "endpoint and the network, then run the command again")


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB"


def too_large(host: str, bounds: Bounds, what: str, how: str = "") -> ScimReadError:
    return AnswerTooLarge(f"Natoma's SCIM endpoint at {host} sent more than {_mib(bounds.max_bytes)}{how} in one "
                         f"answer ({what}): refused", fix=FIX_SERVER)


class BoundedStream:
    """An answer's body, read chunk by chunk: at most `max_bytes` as sent and as decoded, and never past `deadline`.
    `encoding` is the answer's Content-Encoding (identity, gzip or deflate): decoded here, so the size that counts is
    the size that would be held."""

    def __init__(self, inner: Any, encoding: str, bounds: Bounds, deadline: float, host: str, what: str):
        self.inner, self.encoding, self.bounds = inner, encoding, bounds
        self.deadline, self.host, self.what = deadline, host, what

    def __iter__(self) -> Iterator[bytes]:
        b, limit = self.bounds, self.bounds.max_bytes
        decoder = _decoder(self.encoding) if self.encoding != "identity" else None
        sent = out = 0
        for chunk in self.inner:
            sent += len(chunk)
            if sent > limit:
                raise self._too_large("")
            if b.clock() > self.deadline or b.stop.is_set():
                raise self._too_slow()
            if decoder is None:
                out += len(chunk)
                yield chunk
                continue
            data = decoder.feed(chunk, limit + 1 - out, self)
            out += len(data)
            if out > limit:
                raise self._too_large(" once decompressed")
            if data:
                yield data
        if decoder is not None:
            data = decoder.finish(limit + 1 - out, self)
            if out + len(data) > limit:
                raise self._too_large(" once decompressed")
            if data:
                yield data

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()

    def _too_large(self, how: str) -> ScimReadError:
        return too_large(self.host, self.bounds, self.what, how)

    def _too_slow(self) -> ScimReadError:
        if self.bounds.stop.is_set() or self.bounds.remaining() <= 0:
            return out_of_time(self.host, self.bounds.budget)
        return ScimReadError(f"Natoma's SCIM endpoint at {self.host} did not finish one answer ({self.what}) within "
                             f"{self.bounds.request_timeout:g} s",
                             fix="check Natoma's SCIM endpoint and the network, then run the command again")

    def unreadable(self) -> ScimReadError:
        return ScimReadError(f"Natoma's SCIM endpoint at {self.host} sent a {self.encoding} body that does not "
                             f"decompress ({self.what})", fix=FIX_SERVER)


class _Decoder:
    """zlib with max_length: what one chunk of input may inflate to is capped before it is made."""

    def __init__(self, wbits: int, fallback: int | None = None):
        self.z = zlib.decompressobj(wbits)
        self.fallback = fallback  # raw deflate, tried when a "deflate" body has no zlib header
        self.started = False

    def feed(self, chunk: bytes, room: int, stream: BoundedStream) -> bytes:
        try:
            data = self.z.decompress(chunk, max(room, 1))
        except zlib.error:
            if self.started or self.fallback is None:
                raise stream.unreadable() from None
            self.z, self.fallback = zlib.decompressobj(self.fallback), None
            return self.feed(chunk, room, stream)
        self.started = True
        return data

    def finish(self, room: int, stream: BoundedStream) -> bytes:
        try:
            data = self.z.decompress(self.z.unconsumed_tail, max(room, 1)) if self.z.unconsumed_tail else b""
            if len(data) >= room:
                return data
            return data + self.z.flush()
        except zlib.error:
            raise stream.unreadable() from None


def _decoder(encoding: str) -> _Decoder:
    if encoding in ("gzip", "x-gzip"):
        return _Decoder(16 + zlib.MAX_WBITS)
    return _Decoder(zlib.MAX_WBITS, fallback=-zlib.MAX_WBITS)  # deflate: zlib-wrapped, else raw (as httpx reads it)


def hooks(bounds: Bounds, host: str) -> dict[str, list[Callable[[Any], None]]]:
    """httpx2 event hooks: every request's timeouts clamped to the run's time left, every answer read through a
    BoundedStream (its Content-Encoding then removed, so httpx2 does not decode it again)."""

    def request(req: Any) -> None:
        left = bounds.left(host)
        req.extensions["timeout"] = {k: min(v, left) for k, v in HTTP_TIMEOUTS.items()}
        req.extensions["natoma_entra.deadline"] = bounds.clock() + min(bounds.request_timeout, left)

    def response(resp: Any) -> None:
        what = f"{resp.request.method} {resp.request.url.path}"
        length = resp.headers.get("content-length")
        if length and length.strip().isdigit() and int(length) > bounds.max_bytes:
            resp.close()
            raise too_large(host, bounds, what)
        encodings = [e.strip().lower() for e in resp.headers.get_list("content-encoding", split_commas=True)]
        encodings = [e for e in encodings if e and e != "identity"]
        if len(encodings) > 1 or (encodings and encodings[0] not in ("gzip", "x-gzip", "deflate")):
            resp.close()
            raise ScimReadError(f"Natoma's SCIM endpoint at {host} answered with Content-Encoding "
                                f"{', '.join(encodings)[:60]}, which was not asked for ({what})", fix=FIX_SERVER)
        deadline = resp.request.extensions.get("natoma_entra.deadline", bounds.clock() + bounds.request_timeout)
        stream = BoundedStream(resp.stream, encodings[0] if encodings else "identity", bounds, deadline, host, what)
        for name in ("content-encoding", "content-length"):
            if name in resp.headers:
                del resp.headers[name]
        resp.stream = _SyncStream(stream)

    return {"request": [request], "response": [response]}


class _SyncStream(httpx2.SyncByteStream):
    """BoundedStream as the httpx2 byte stream a Response reads."""

    def __init__(self, stream: BoundedStream):
        self.stream = stream

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.stream)

    def close(self) -> None:
        self.stream.close()


async def in_thread(work: Callable[[], T], bounds: Bounds, host: str) -> T:
    """`work()` (a blocking SCIM read) in a daemon thread, awaited for at most the run's time left; when that runs
    out, the read is told to stop and the command goes on with a ScimReadError naming the --timeout."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future = loop.create_future()

    def deliver(ok: bool, value: Any) -> None:
        if not done.done():
            (done.set_result if ok else done.set_exception)(value)

    def run() -> None:
        value: Any
        try:
            value, ok = work(), True
        except BaseException as e:  # noqa: BLE001 - handed to the waiting coroutine as it is
            value, ok = e, False
        try:
            loop.call_soon_threadsafe(deliver, ok, value)
        except RuntimeError:  # the run is over (its loop closed): nobody waits for this answer any more
            pass

    threading.Thread(target=run, name="natoma-scim-read", daemon=True).start()
    try:
        return await asyncio.wait_for(asyncio.shield(done), timeout=max(bounds.remaining(), 0.0))
    except (asyncio.TimeoutError, TimeoutError):
        raise out_of_time(host, bounds.budget) from None
    finally:
        if not done.done():
            bounds.stop.set()
