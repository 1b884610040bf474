"""Ctrl-C at the terminal, as a person presses it: the CLI is its own process on a pseudo-terminal (its controlling
terminal), and the keys are typed into it, so the terminal sends the SIGINT. Before, a question or the hidden token
prompt inside a run took no notice of the first Ctrl-C (asyncio.run only cancelled the run's task, which waited in the
prompt): natoma_entra/interrupts.py. Real mode against `sandbox serve`, nothing passing `--sandbox`."""
from __future__ import annotations

import os
import select
import signal
import sys
import time
from dataclasses import dataclass

from natoma_entra.sandbox.state import NATOMA_TOKEN
from natoma_entra.sandbox.tokens import access_token

from .conftest import Real

CTRL_C = b"\x03"
WAIT = 30.0  # seconds a step of the conversation may take at most (the CLI answers in about one)
READS = 0.3  # seconds between the prompt on the screen and the key


@dataclass
class Conversation:
    code: int
    screen: str  # everything the terminal showed (stdout and stderr share it)


def at_a_terminal(real: Real, args: list[str], *, when: bytes, keys: bytes) -> Conversation:
    """`natoma-entra ARGS` on a pseudo-terminal: wait for `when` on the screen (a prompt, with the space input()
    writes last), type `keys`, read to the exit."""
    import pty

    env = {k: v for k, v in os.environ.items() if not k.startswith(("NATOMA_", "AZURE_", "PYTEST_"))}
    env.update(NATOMA_ENTRA_ACCESS_TOKEN=access_token(), SSL_CERT_FILE=os.environ["SSL_CERT_FILE"], TERM="xterm",
               COLUMNS="120")
    argv = [sys.executable, "-m", "natoma_entra", *args]
    pid, fd = pty.fork()
    if pid == 0:  # the child: a new session whose controlling terminal is the pseudo-terminal
        try:
            signal.signal(signal.SIGINT, signal.SIG_DFL)  # as a shell starts a command (the test runner may not)
            os.chdir(real.tmp)
            os.execve(sys.executable, argv, env)
        finally:
            os._exit(127)
    screen = b""
    typed = False
    deadline = time.monotonic() + WAIT
    try:
        while True:
            assert time.monotonic() < deadline, f"no {'exit' if typed else when!r} in {WAIT:g} s:\n{screen!r}"
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # the child closed the terminal: it is done
                    chunk = b""
                if not chunk:
                    break
                screen += chunk
            if not typed and when in screen:
                # a person reads the question before pressing a key; typed within microseconds of the prompt, the
                # key could come before Python's input() blocks in its read, where CPython itself would miss it
                time.sleep(READS)
                os.write(fd, keys)
                typed, deadline = True, time.monotonic() + WAIT
        _, status = os.waitpid(pid, 0)
        pid = 0
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    return Conversation(os.waitstatus_to_exitcode(status), screen.decode("utf-8", "replace"))


def test_ctrl_c_at_the_question_stops_at_once_and_writes_nothing(real: Real) -> None:
    real.set_up()
    before = real.served.state_bytes()
    talk = at_a_terminal(real, ["--config", str(real.config()), "teardown"], when=b"[y/N]: ", keys=CTRL_C)
    assert talk.code == 130, talk.screen
    assert "error: teardown: interrupted at the question; nothing was written" in talk.screen
    assert real.served.state_bytes() == before


def test_ctrl_c_at_the_token_prompt_stops_the_run_and_a_rerun_converges(real: Real, monkeypatch) -> None:
    """No SCIM token anywhere but the person at the terminal: setup asks for it while it plans (the credentials step
    compares it with the saved one); Ctrl-C there stops the run before its first write. The same command with the
    token converges."""
    config = real.config()
    before = real.served.state_bytes()
    talk = at_a_terminal(real, ["--config", str(config), "setup"], when=b"Natoma SCIM token (input hidden): ",
                         keys=CTRL_C)
    assert talk.code == 130, talk.screen
    assert "error: interrupted during reading; nothing was written" in talk.screen
    assert real.served.state_bytes() == before
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    assert real.cli("--config", config, "setup").code == 0
    again = real.cli("--config", config, "setup")
    assert again.code == 0 and again.writes == [], again.err
    assert real.served.secrets().get("SecretToken") == NATOMA_TOKEN
