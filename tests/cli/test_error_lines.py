"""The one stderr line of a failed run (issue 26, "Error lines"): the fix after a sentence end, the command said once,
"run the same command again" said once after Ctrl-C, an environment variable named only when it is the culprit."""
from __future__ import annotations

import re

import pytest

from natoma_entra.sandbox import faults

DIEGO = "DiegoS@contoso.onmicrosoft.com"  # in no role group: provisioning him is skipped (a failed step)


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


def assert_fix_after_a_sentence(line: str) -> None:
    assert " Fix: " in line, line
    assert re.search(r"[.?!] Fix: ", line), f"no sentence end before the fix: {line}"


def test_the_fix_follows_a_sentence_end(sandbox):
    """`teardown` with no terminal: "... no terminal is attached to ask at. Fix: pass --yes", not "ask at Fix:"."""
    assert sandbox.set_up().code == 0
    r = sandbox.cli("teardown")
    assert r.code == 2
    [line] = error_lines(r.err)
    assert "ask at. Fix: pass --yes" in line
    assert_fix_after_a_sentence(line)


def test_a_message_that_ends_a_sentence_gets_no_second_period():
    from natoma_entra.errors import error_line, with_fix

    assert with_fix("is it there?", "look") == "is it there? Fix: look"
    assert with_fix("done.", "look") == "done. Fix: look"
    assert with_fix("no fix", None) == "no fix"
    assert error_line("credentials: the test failed", "rotate", about="credentials") == (
        "error: credentials: the test failed. Fix: rotate")
    assert error_line("mapping: no schema", None, about="setup") == "error: setup: mapping: no schema"


@pytest.mark.parametrize("args,command", [
    (("provision", DIEGO), "provision"),
    (("audit",), "audit"),
])
def test_the_command_is_named_once(sandbox, monkeypatch, args, command):
    """A command made of one step of the same name (provision, audit, credentials) said "provision: provision:"."""
    assert sandbox.set_up().code == 0
    if command == "audit":
        monkeypatch.setenv("NATOMA_SCIM_TOKEN", "wrong-token-for-natoma")
    r = sandbox.cli(*args)
    assert r.code == 1, r.out + r.err
    [line] = error_lines(r.err)
    assert line.startswith(f"error: {command}: ") and f"{command}: {command}:" not in line, line
    assert_fix_after_a_sentence(line)


def test_credentials_with_a_refused_token_names_the_command_once(sandbox, monkeypatch):
    assert sandbox.set_up().code == 0
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", "wrong-token-for-natoma")
    r = sandbox.cli("credentials", "--rotate")
    assert r.code == 1, r.out + r.err
    [line] = error_lines(r.err)
    assert line.startswith("error: credentials: ") and "credentials: credentials:" not in line, line


def test_ctrl_c_says_run_the_same_command_again_once(sandbox):
    sandbox.options.faults[:] = [faults.interrupt(method="POST", path=r"/appRoleAssignedTo$")]
    r = sandbox.cli("setup", "-o", "json")
    assert r.code == 130
    assert r.err.count("again") == 1, r.err
    [line] = error_lines(r.err)
    assert line.startswith("error: interrupted during assign") and "Fix: run the same command again" in line
    doc = r.json()
    assert doc["fix"].startswith("run the same command again") and "again" not in doc["error"]


@pytest.mark.parametrize("args,method,path,step", [
    (("status",), "GET", r"/servicePrincipals$", "status"),  # a command that never writes
    (("setup",), "GET", r"/servicePrincipals$", "reading"),  # a run stopped while it reads, before any write
])
def test_ctrl_c_before_any_write_says_nothing_was_written(sandbox, args, method, path, step):
    assert sandbox.set_up().code == 0
    before = sandbox.path.read_bytes()
    sandbox.options.faults[:] = [faults.interrupt(method=method, path=path)]
    r = sandbox.cli(*args)
    assert r.code == 130, r.out + r.err
    [line] = error_lines(r.err)
    assert line.startswith(f"error: interrupted during {step}; nothing was written. Fix: run the same command"), line
    assert r.writes == [] and sandbox.path.read_bytes() == before


def test_a_bad_timeout_typed_as_a_flag_does_not_blame_the_environment(sandbox, monkeypatch):
    r = sandbox.cli("--timeout", "0", "status")
    assert r.code == 2
    [line] = error_lines(r.err)
    assert "--timeout" in line and "env var" not in line and "NATOMA_ENTRA_TIMEOUT" not in line, line
    assert_fix_after_a_sentence(line)
    monkeypatch.setenv("NATOMA_ENTRA_TIMEOUT", "0")
    r = sandbox.cli("status")
    assert r.code == 2
    [line] = error_lines(r.err)
    assert "NATOMA_ENTRA_TIMEOUT" in line, line  # here the variable is the culprit
