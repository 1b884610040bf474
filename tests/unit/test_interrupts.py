"""Ctrl-C while a run blocks its own thread (natoma_entra/interrupts.py): the run stops there and then, as it stops at
an await, and SIGINT's handler is left as it was. The signal is a real SIGINT to this process (signal.raise_signal),
handled by whatever handler is in place: asyncio.run's during a run, as for a person pressing Ctrl-C."""
from __future__ import annotations

import asyncio
import signal
import threading

import pytest

from natoma_entra.graph.auth import RegisteringCredential
from natoma_entra.interrupts import ctrl_c_stops_here


@pytest.fixture(autouse=True)
def _python_handles_sigint():
    """These tests send SIGINT to the process: they need Python's own handler on the main thread, as a CLI run has."""
    assert threading.current_thread() is threading.main_thread()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    yield
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # left as it was found


class BlockingSignIn:
    """A synchronous credential signing a person in (a device code, a browser): it blocks, and the SDK calls it on the
    event loop's thread. Ctrl-C comes while it waits."""

    def __init__(self) -> None:
        self.waited_out = False  # the sign-in's wait ran to its end: Ctrl-C did not stop it
        self.calls = 0

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        self.calls += 1
        if self.calls == 1:
            signal.raise_signal(signal.SIGINT)  # the person presses Ctrl-C while the sign-in waits
            self.waited_out = True
        return AccessToken("token-after-sign-in", 2_000_000_000)


def test_ctrl_c_during_a_blocking_sign_in_stops_the_run_there_and_then():
    """Before, asyncio's handler only cancelled the run's task, which the blocked call never noticed: the sign-in
    waited on (minutes, for a device code) and the first Ctrl-C did nothing."""
    inner = BlockingSignIn()
    credential = RegisteringCredential(inner)
    after: list[str] = []

    async def request(n: int) -> str:
        await asyncio.sleep(0)
        token = credential.get_token("https://graph.microsoft.com/.default").token  # as kiota calls it: in the loop
        await asyncio.sleep(0)
        after.append(f"request {n} went on")
        return token

    async def run() -> list[str]:
        return list(await asyncio.gather(request(1), request(2)))  # the run's reads, side by side

    with pytest.raises(KeyboardInterrupt):  # asyncio.run's own answer to Ctrl-C once its task is cancelled
        asyncio.run(run())
    assert inner.waited_out is False
    assert after == []


def test_after_a_sign_in_that_was_not_interrupted_the_handler_is_asyncios_again():
    seen: list[object] = []

    class Quiet:
        def get_token(self, *scopes, **kwargs):
            from azure.core.credentials import AccessToken

            seen.append(signal.getsignal(signal.SIGINT))
            return AccessToken("t", 2_000_000_000)

    async def run() -> tuple[object, object]:
        before = signal.getsignal(signal.SIGINT)
        RegisteringCredential(Quiet()).get_token("scope")
        return before, signal.getsignal(signal.SIGINT)

    before, after = asyncio.run(run())
    assert before is after and before is not signal.default_int_handler  # asyncio's, back in place
    assert seen and seen[0] is not before  # while the credential ran, Ctrl-C would have stopped it


def test_outside_a_run_ctrl_c_is_pythons_keyboard_interrupt_and_is_said():
    with pytest.raises(KeyboardInterrupt):
        with ctrl_c_stops_here() as ctrl_c:
            signal.raise_signal(signal.SIGINT)
    assert ctrl_c.pressed


def test_a_process_that_ignores_ctrl_c_keeps_ignoring_it():
    """A run started in the background by a shell ignores SIGINT: a blocking call does not start hearing it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with ctrl_c_stops_here() as ctrl_c:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            signal.raise_signal(signal.SIGINT)
        assert not ctrl_c.pressed
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def test_off_the_main_thread_nothing_changes():
    """Signals are handled on the main thread only: a credential asked from a worker thread (the preflight's) leaves
    SIGINT's handler alone."""
    seen: list[object] = []

    def work() -> None:
        with ctrl_c_stops_here() as ctrl_c:
            seen.append(signal.getsignal(signal.SIGINT))
        seen.append(ctrl_c.pressed)

    t = threading.Thread(target=work)
    t.start()
    t.join(10)
    assert seen == [signal.default_int_handler, False]
