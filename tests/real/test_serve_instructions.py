"""`natoma-entra sandbox serve`'s instructions work as printed: started as a person starts it (its own process, a
free port), what it prints (the Graph and Natoma URLs, their tokens) and the rehearsal command its --help and
docs/sandbox.md show are pasted as they are (only the port changed), and the run sets Natoma's roles up. Ctrl-C, as
printed, stops it cleanly."""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from natoma_entra.sandbox.natoma import standin_for
from natoma_entra.sandbox.state import ACCESS_TOKEN, Tenant

from .conftest import run_real

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED = "http://127.0.0.1:8080"  # the port the instructions name


def paste(text: str) -> tuple[dict[str, str], list[str]]:
    """What a POSIX shell makes of a pasted command: continuation lines joined, words split and unquoted, leading
    NAME=VALUE words as the command's environment."""
    words = shlex.split(text.replace("\\\n", " "))
    env: dict[str, str] = {}
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    return env, words


def from_docs() -> str:
    text = (ROOT / "docs" / "sandbox.md").read_text()
    block = text.split("Rehearsing a pipeline", 1)[1].split("```", 2)[1]
    return block.split("\n", 1)[1].strip()  # after the fence's language (```bash)


def from_help(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> str:
    code, out, _err = run_real(capsys, monkeypatch, "sandbox", "serve", "--help", tokens_in_output=True)
    assert code == 0
    paragraph = next(p for p in out.split("\n\n") if "NATOMA_ENTRA_ACCESS_TOKEN=" in p)
    lines = [line.strip() for line in paragraph.strip().splitlines()]
    assert lines[0].startswith("Example: ")  # a person copies what follows "Example: "
    return "\n".join([lines[0].removeprefix("Example: ")] + lines[1:])


@pytest.fixture
def served_process(tmp_path: Path) -> object:
    state = tmp_path / "served.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NATOMA_")}
    proc = subprocess.Popen([sys.executable, "-m", "natoma_entra", "--sandbox-state", str(state), "sandbox", "serve",
                             "--port", "0"], env={**env, "PYTHONUNBUFFERED": "1"}, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            # as started at a terminal: a suite launched in the background (`cmd &`, nohup, some CI
                            # runners) has SIGINT ignored, a child inherits that, and Python then never sees Ctrl-C
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    printed = []
    assert proc.stderr is not None
    for line in proc.stderr:  # it prints three lines, the last naming the state file, then serves
        printed.append(line)
        if line.startswith("state:"):
            break
    yield proc, state, "".join(printed)
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


def test_serve_prints_what_to_use_and_its_rehearsal_command_works_as_printed(served_process, capsys, monkeypatch,
                                                                             trust_store) -> None:
    proc, state, printed = served_process
    graph = re.search(r"Graph:\s+(http://127\.0\.0\.1:(\d+)/v1\.0)\s+\(bearer token: (\S+)\)", printed)
    natoma = re.search(r"Natoma:\s+(http://127\.0\.0\.1:(\d+)/scim/v2)\s+\(SCIM token: (\S+)\)", printed)
    assert graph and natoma, printed
    assert graph.group(2) == natoma.group(2) != "0"  # the port it listens on, not the 0 asked for
    base = graph.group(1).removesuffix("/v1.0")
    monkeypatch.setenv("SSL_CERT_FILE", str(trust_store))

    for source, text in (("docs/sandbox.md", from_docs()), ("sandbox serve --help", from_help(capsys, monkeypatch))):
        assert DOCUMENTED in text, source
        env, argv = paste(text.replace(DOCUMENTED, base))
        # the tokens the instructions give are ones the server printed: its SCIM token, and for Graph the plain token
        # it says it accepts too (pastable as it stands; the minted one it prints carries claims for the preflight)
        assert env["NATOMA_SCIM_TOKEN"] == natoma.group(3), source
        assert env["NATOMA_ENTRA_ACCESS_TOKEN"] in (graph.group(3), ACCESS_TOKEN), source
        assert f"(or {ACCESS_TOKEN}: accepted too" in printed
        assert argv[0] == "natoma-entra", source
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        code, out, err = run_real(capsys, monkeypatch, *argv[1:])
        assert code == 0, f"{source}: {err}"
        for name in env:
            monkeypatch.delenv(name)

        tenant = Tenant.load(state)  # the file the server saves after each write
        held = {u["userName"]: [r.get("value") for r in u.get("roles") or []] for u in standin_for(tenant).users()}
        assert held["AdeleV@contoso.onmicrosoft.com"] == ["admin"], source
        assert held["MeganB@contoso.onmicrosoft.com"] == ["member"], source
    # the help's command assigns "Natoma App Admins" too (its users arrive with the job's next cycle)
    sp = tenant.find_sp("Natoma")
    roles = {r["id"]: r.get("value") for r in sp["appRoles"]}
    assigned = {(a["principalDisplayName"], roles.get(a["appRoleId"]))
                for a in tenant.state["appRoleAssignments"].values() if a["resourceId"] == sp["id"]}
    assert ("Natoma App Admins", "AppAdmin") in assigned

    proc.send_signal(signal.SIGINT)  # "Ctrl-C to stop"
    _out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in err
