"""Ctrl-C while a run blocks its own thread.

asyncio.run answers Ctrl-C by cancelling the run's task, which stops it at the task's next await
(https://docs.python.org/3/library/asyncio-runner.html#handling-keyboard-interruption). A call that blocks the thread
never reaches one: a question at the terminal, the hidden SCIM token prompt, azure-identity's sign-in (a device code
or a browser sign-in waits for minutes, and the SDK calls a synchronous credential on the event loop's thread). There
the first Ctrl-C did nothing. While such a call runs, Ctrl-C does what asyncio does (the run's task is cancelled) and
also ends the call at once: KeyboardInterrupt inside it, which leaves the block as the task's cancellation
(asyncio.CancelledError), so the run stops as it does at an await. A prompt turns KeyboardInterrupt into its own
Abort first: its caller reads `pressed`.
"""
from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType


@dataclass
class CtrlC:
    """Did Ctrl-C come while the call ran? (A prompt says Abort both for Ctrl-C and for the end of its input.)"""

    pressed: bool = False


def asyncio_answers_ctrl_c() -> bool:
    """Is SIGINT handled, on this (the main) thread, by a handler other than Python's own: asyncio.run's?"""
    handler = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    return callable(handler) and handler is not signal.default_int_handler


@contextlib.contextmanager
def ctrl_c_stops_here() -> Iterator[CtrlC]:
    """While the block runs, Ctrl-C ends it at once (and says so in what it yields). A process that ignores SIGINT
    (started in the background) keeps ignoring it; signals are handled on the main thread only."""
    seen = CtrlC()
    previous = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    if not callable(previous):
        yield seen
        return
    handler = previous

    def stop(signum: int, frame: FrameType | None) -> None:
        seen.pressed = True
        handler(signum, frame)  # the handler in place first: asyncio's cancels the run's task (Python's raises)
        raise KeyboardInterrupt

    in_a_run = asyncio_answers_ctrl_c()  # asyncio.run's handler: the run goes on cancelled
    signal.signal(signal.SIGINT, stop)
    try:
        yield seen
    except KeyboardInterrupt:
        if seen.pressed and in_a_run:
            raise asyncio.CancelledError from None
        raise
    finally:
        signal.signal(signal.SIGINT, previous)
