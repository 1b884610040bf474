"""The SCIM token never appears in any output: text, JSON, --verbose HTTP trace, errors; from every source.

Run twice: with the redaction safety net in place (what users get), and with it switched off, to show that no code
path prints the token in the first place (redact.py is only the last line of defence).
"""
from __future__ import annotations

import io
import sys

import pytest

from natoma_entra.sandbox.state import NATOMA_TOKEN

WRONG = "wrong-but-secret-token-0xDEADBEEF"


@pytest.fixture(params=["safety-net", "no-safety-net"])
def net(request, monkeypatch):
    if request.param == "no-safety-net":
        from natoma_entra import redact
        from natoma_entra.cli import token
        from natoma_entra.steps import credentials

        monkeypatch.setattr(redact, "_SECRETS", set())
        for mod in (redact, token, credentials):
            monkeypatch.setattr(mod, "register", lambda s: None)
    return request.param


class _Tty(io.StringIO):
    def isatty(self):
        return True


def _source(kind: str, token: str, sandbox, tmp_path, monkeypatch) -> tuple[list[str], str | None]:
    """(extra CLI args, stdin) that give `token` by `kind`."""
    if kind == "env":
        monkeypatch.setenv("NATOMA_SCIM_TOKEN", token)
        return [], None
    if kind == "file":
        f = tmp_path / "scim-token"
        f.write_text(token + "\n")
        return ["credentials", "--scim-token-file", str(f)], None
    if kind == "config-file":
        f = tmp_path / "scim-token"
        f.write_text(token + "\n")
        cfg = tmp_path / "natoma-entra.toml"
        cfg.write_text(f'[scim]\ntoken_file = "{f}"\n')
        return ["--config", str(cfg)], None
    if kind == "stdin":
        return ["credentials", "--scim-token-stdin"], token + "\n"
    if kind == "prompt":
        from natoma_entra.cli import token as token_mod

        sandbox.scim_token = None  # no sandbox fallback: ask the person
        monkeypatch.setattr(sys, "stdin", _Tty())
        monkeypatch.setattr(token_mod, "_prompt", lambda *pause: token)
        return [], None
    raise AssertionError(kind)


def _args(extra: list[str], *rest: str) -> list[str]:
    """Global options first, then `credentials` and its own options."""
    if "credentials" in extra:
        i = extra.index("credentials")
        return [*rest, *extra[:i], "credentials", *extra[i + 1:]]
    return [*rest, *extra, "credentials"]


@pytest.mark.parametrize("kind", ["env", "file", "config-file", "stdin", "prompt"])
@pytest.mark.parametrize("output", [["--verbose"], ["--output", "json"], ["--verbose", "--output", "json"]])
def test_token_never_printed(sandbox, tmp_path, monkeypatch, net, kind, output):
    # 1. saved (tested, then PUT)
    extra, stdin = _source(kind, NATOMA_TOKEN, sandbox, tmp_path, monkeypatch)
    r = sandbox.cli(*_args(extra, *output), stdin=stdin)
    assert r.code == 0, r.err
    assert any(w[0] == "PUT" for w in r.writes)
    assert NATOMA_TOKEN not in r.out + r.err
    # 2. rotated with a wrong token: rejected, Graph's reason shown, the token not
    extra, stdin = _source(kind, WRONG, sandbox, tmp_path, monkeypatch)
    r = sandbox.cli(*_args(extra, *output), "--rotate", stdin=stdin)
    assert r.code == 1
    assert "invalid credentials" in r.out + r.err
    assert WRONG not in r.out + r.err and NATOMA_TOKEN not in r.out + r.err


def test_dry_run_and_start_do_not_print_it(sandbox, monkeypatch, net):
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    for args in (["--verbose", "credentials", "--dry-run"], ["--verbose", "credentials"],
                 ["--verbose", "--output", "json", "start"], ["--verbose", "start", "--restart"]):
        r = sandbox.cli(*args)
        assert r.code == 0, (args, r.err)
        assert NATOMA_TOKEN not in r.out + r.err, args


def test_usage_error_for_a_missing_token_names_the_three_ways(sandbox, monkeypatch):
    sandbox.scim_token = None  # no sandbox fallback
    r = sandbox.cli("credentials", stdin="")  # not a terminal: no prompt
    assert r.code == 2
    assert "NATOMA_SCIM_TOKEN" in r.err and "--scim-token-file" in r.err and "--scim-token-stdin" in r.err
    assert r.writes == []
