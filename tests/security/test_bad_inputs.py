"""Bad input, as a hostile or careless user gives it: exit 2, exactly one line on stderr naming the culprit and the
fix, no traceback, nothing written (not one write request, the state file untouched), and no secret echoed.

Each case runs the CLI in process: against the sandbox (`--sandbox`), or, for the access token (which `--sandbox`
does not read), against `sandbox serve` on loopback with `--auth access-token`.
"""
from __future__ import annotations

import socket
from dataclasses import dataclass, field

import pytest

FAKE_SCIM = "fake-scim-token-0123456789abcdef0123456789abcdef"
FAKE_GRAPH = "fake-graph-token-0123456789abcdef0123456789abcdef"
PASSWORD = "hunter2-secret-password-0123456789"
LONG = "x" * 100_000


@dataclass
class Case:
    id: str
    args: tuple[str, ...]
    culprit: tuple[str, ...]  # every one of these is on the error line
    env: dict[str, str] = field(default_factory=dict)
    stdin: str | None = None
    files: dict[str, bytes] = field(default_factory=dict)  # written in the working directory first
    state: bytes | None = None  # the sandbox state file's content before the run
    secrets: tuple[str, ...] = ()  # never in stdout or stderr
    real: bool = False  # run without --sandbox, against `sandbox serve`, with --auth access-token


def toml(text: str) -> dict[str, bytes]:
    return {"bad.toml": text.encode()}


SCIM_ENV = "$NATOMA_SCIM_TOKEN"
CASES = [
    # -- the SCIM token, from each source -----------------------------------------------------------------------
    Case("scim-env-inner-space", ("setup",), (SCIM_ENV, "whitespace"), env={"NATOMA_SCIM_TOKEN": FAKE_SCIM[:20] + " " + FAKE_SCIM[20:]}, secrets=(FAKE_SCIM[:20],)),
    Case("scim-env-inner-newline", ("setup",), (SCIM_ENV, "whitespace"), env={"NATOMA_SCIM_TOKEN": FAKE_SCIM + "\n" + FAKE_SCIM}, secrets=(FAKE_SCIM,)),
    Case("scim-env-tab", ("setup",), (SCIM_ENV, "whitespace"), env={"NATOMA_SCIM_TOKEN": FAKE_SCIM + "\t1"}, secrets=(FAKE_SCIM,)),
    Case("scim-env-escape-char", ("setup",), (SCIM_ENV, "control"), env={"NATOMA_SCIM_TOKEN": FAKE_SCIM + "\x1b[2J"}, secrets=(FAKE_SCIM,)),
    Case("scim-env-non-ascii", ("setup",), (SCIM_ENV, "non-ASCII"), env={"NATOMA_SCIM_TOKEN": FAKE_SCIM + "é"}, secrets=(FAKE_SCIM,)),
    Case("scim-env-20k", ("setup",), (SCIM_ENV, "16 KiB"), env={"NATOMA_SCIM_TOKEN": FAKE_SCIM * 500}, secrets=(FAKE_SCIM,)),
    Case("scim-file-dev-zero", ("setup", "--scim-token-file", "/dev/zero"), ("/dev/zero", "16 KiB")),
    Case("scim-file-binary", ("setup", "--scim-token-file", "tok.bin"), ("tok.bin", "not text"), files={"tok.bin": b"\xff\xfe\x00\x01" * 10}),
    Case("scim-file-nul", ("setup", "--scim-token-file", "tok"), ("tok", "control"), files={"tok": FAKE_SCIM.encode() + b"\x00"}, secrets=(FAKE_SCIM,)),
    Case("scim-file-two-lines", ("setup", "--scim-token-file", "tok"), ("tok", "whitespace"), files={"tok": (FAKE_SCIM + "\n" + FAKE_SCIM + "\n").encode()}, secrets=(FAKE_SCIM,)),
    Case("scim-file-empty", ("setup", "--scim-token-file", "tok"), ("tok", "empty"), files={"tok": b"\n"}),
    Case("scim-file-missing", ("setup", "--scim-token-file", "nope"), ("nope", "cannot read")),
    Case("scim-file-directory", ("setup", "--scim-token-file", "."), ("directory",)),
    Case("scim-file-200k", ("setup", "--scim-token-file", "big"), ("big", "16 KiB"), files={"big": b"a" * 200_000}),
    Case("scim-stdin-inner-space", ("setup", "--scim-token-stdin"), ("standard input", "whitespace"), stdin=FAKE_SCIM + " x\n", secrets=(FAKE_SCIM,)),
    Case("scim-stdin-empty", ("setup", "--scim-token-stdin"), ("standard input", "empty"), stdin=""),
    Case("scim-stdin-20k", ("setup", "--scim-token-stdin"), ("standard input", "16 KiB"), stdin=FAKE_SCIM * 500, secrets=(FAKE_SCIM,)),
    # -- the Graph access token (--auth access-token) -------------------------------------------------------------
    Case("graph-token-inner-space", ("status",), ("$NATOMA_ENTRA_ACCESS_TOKEN", "whitespace"), env={"NATOMA_ENTRA_ACCESS_TOKEN": FAKE_GRAPH + " " + FAKE_GRAPH}, secrets=(FAKE_GRAPH,), real=True),
    Case("graph-token-inner-newline", ("status",), ("$NATOMA_ENTRA_ACCESS_TOKEN", "whitespace"), env={"NATOMA_ENTRA_ACCESS_TOKEN": FAKE_GRAPH + "\nX"}, secrets=(FAKE_GRAPH,), real=True),
    Case("graph-token-non-ascii", ("status",), ("$NATOMA_ENTRA_ACCESS_TOKEN", "non-ASCII"), env={"NATOMA_ENTRA_ACCESS_TOKEN": FAKE_GRAPH + "\u00e9x"}, secrets=(FAKE_GRAPH,), real=True),
    Case("graph-token-blank", ("status",), ("$NATOMA_ENTRA_ACCESS_TOKEN", "empty"), env={"NATOMA_ENTRA_ACCESS_TOKEN": "  \n"}, real=True),
    Case("graph-token-20k", ("status",), ("$NATOMA_ENTRA_ACCESS_TOKEN", "16 KiB"), env={"NATOMA_ENTRA_ACCESS_TOKEN": FAKE_GRAPH * 500}, secrets=(FAKE_GRAPH,), real=True),
    # -- SCIM and Graph URLs: exactly scheme://host[:port]/path ----------------------------------------------------
    Case("scim-url-userinfo", ("setup", "--scim-url", f"https://admin:{PASSWORD}@acme.natoma.app/scim/v2"), ("--scim-url", "password"), secrets=(PASSWORD,)),
    Case("scim-url-trailing-newline", ("setup", "--scim-url", "https://natoma.sandbox.test/scim/v2\n"), ("--scim-url", "whitespace")),
    Case("scim-url-leading-space", ("setup", "--scim-url", " https://natoma.sandbox.test/scim/v2"), ("--scim-url", "whitespace")),
    Case("scim-url-tab", ("setup", "--scim-url", "https://natoma.sandbox.test/scim/v2\t"), ("--scim-url", "whitespace")),
    Case("scim-url-query", ("setup", "--scim-url", "https://natoma.sandbox.test/scim/v2?x=1"), ("--scim-url", "query")),
    Case("scim-url-fragment", ("setup", "--scim-url", "https://natoma.sandbox.test/scim/v2#top"), ("--scim-url", "fragment")),
    Case("scim-url-http-remote", ("setup", "--scim-url", "http://acme.natoma.app/scim/v2"), ("--scim-url", "https")),
    Case("scim-url-ftp", ("setup", "--scim-url", "ftp://acme.natoma.app/scim/v2"), ("--scim-url", "https URL")),
    Case("scim-url-port-70000", ("setup", "--scim-url", "https://acme.natoma.app:70000/scim/v2"), ("--scim-url", "port")),
    Case("scim-url-env-userinfo", ("setup",), ("NATOMA_SCIM_URL", "password"), env={"NATOMA_SCIM_URL": f"https://u:{PASSWORD}@acme.natoma.app/scim/v2"}, secrets=(PASSWORD,)),
    Case("scim-url-config-newline", ("--config", "bad.toml", "setup"), ("bad.toml", "scim.url", "whitespace"), files=toml('[scim]\nurl = "https://natoma.sandbox.test/scim/v2\\n"\n')),
    Case("graph-endpoint-userinfo", ("--graph-endpoint", f"https://u:{PASSWORD}@graph.microsoft.com/v1.0", "status"), ("--graph-endpoint", "password"), secrets=(PASSWORD,)),
    Case("graph-endpoint-query", ("--graph-endpoint", "https://graph.microsoft.com/v1.0?x=1", "status"), ("--graph-endpoint", "query")),
    Case("graph-endpoint-space", ("--graph-endpoint", "https://graph.microsoft.com/v1.0 ", "status"), ("--graph-endpoint", "whitespace")),
    # -- the config file -------------------------------------------------------------------------------------------
    Case("config-not-utf8", ("--config", "bad.toml", "status"), ("bad.toml", "UTF-8"), files={"bad.toml": b'app = "Nat\xffoma"\n'}),
    Case("config-deep-arrays", ("--config", "bad.toml", "status"), ("bad.toml", "deeply"), files=toml("a = " + "[" * 5000 + "]" * 5000 + "\n")),
    Case("config-deep-tables", ("--config", "bad.toml", "status"), ("bad.toml", "deeply"), files=toml("a = " + "{b=" * 3000 + "1" + "}" * 3000 + "\n")),
    Case("config-app-number", ("--config", "bad.toml", "status"), ("bad.toml", "app", "string"), files=toml("app = 5\n")),
    Case("config-groups-string", ("--config", "bad.toml", "status"), ("bad.toml", "groups"), files=toml('groups = "Natoma Admins"\n')),
    Case("config-group-not-list", ("--config", "bad.toml", "status"), ("bad.toml", "groups.admin", "list"), files=toml('[groups]\nadmin = 5\n')),
    Case("config-scope-bool", ("--config", "bad.toml", "status"), ("bad.toml", "scim.scope"), files=toml("[scim]\nscope = true\n")),
    Case("config-unknown-key", ("--config", "bad.toml", "status"), ("bad.toml", "unknown key"), files=toml('tennant = "x"\n')),
    Case("config-secret-literal", ("--config", "bad.toml", "status"), ("bad.toml", "scim.token", "secret"), files=toml(f'[scim]\ntoken = "{FAKE_SCIM}"\n'), secrets=(FAKE_SCIM,)),
    Case("config-invalid-toml", ("--config", "bad.toml", "status"), ("bad.toml", "TOML"), files=toml("app = \n")),
    Case("config-directory", ("--config", ".", "status"), ("directory",)),
    Case("config-missing", ("--config", "missing.toml", "status"), ("missing.toml",)),
    Case("config-2mb", ("--config", "bad.toml", "status"), ("bad.toml", "1 MiB"), files={"bad.toml": b"# " + b"x" * 2_000_000 + b"\n"}),
    # -- names -----------------------------------------------------------------------------------------------------
    Case("app-100k", ("--app", LONG, "status"), ("app", "256")),
    Case("app-env-100k", ("status",), ("environment", "app", "256"), env={"NATOMA_ENTRA_APP": LONG}),
    Case("app-newline", ("--app", "Natoma\nAdmins", "status"), ("app", "control")),
    Case("group-100k", ("setup", "--group", "admin=" + LONG), ("--group", "'admin'", "256")),
    Case("group-newline", ("setup", "--group", "admin=Natoma\nAdmins"), ("--group", "'admin'", "control")),
    Case("tenant-100k", ("--tenant", LONG, "status"), ("tenant", "256")),
    # -- the sandbox state file ------------------------------------------------------------------------------------
    Case("state-garbage", ("setup",), ("sandbox.json", "not valid JSON", "sandbox reset"), state=b"{not json"),
    Case("state-empty", ("status",), ("sandbox.json", "empty", "sandbox reset"), state=b""),
    Case("state-truncated", ("setup",), ("sandbox.json", "not valid JSON", "sandbox reset"), state=b'{"applications": {"a": {"id": '),
    Case("state-list", ("setup",), ("sandbox.json", "not a sandbox tenant", "sandbox reset"), state=b"[]"),
    Case("state-wrong-shape", ("setup",), ("sandbox.json", "'applications'", "sandbox reset"), state=b'{"applications": []}'),
    Case("state-not-utf8", ("status",), ("sandbox.json", "sandbox reset"), state=b'{"domain": "\xff"}'),
    Case("state-path-directory", ("--sandbox-state", ".", "setup"), ("directory", "--sandbox-state")),
    Case("state-path-under-a-file", ("--sandbox-state", "afile/state.json", "setup"), ("afile", "--sandbox-state"), files={"afile": b"x"}),
    # -- sandbox serve ---------------------------------------------------------------------------------------------
    Case("serve-port-70000", ("sandbox", "serve", "--port", "70000"), ("--port 70000",)),
    Case("serve-port-negative", ("sandbox", "serve", "--port", "-1"), ("--port -1",)),
]


def _one_line_check(r, case: Case, secrets: tuple[str, ...]) -> None:
    lines = [line for line in r.err.splitlines() if line.strip()]
    assert r.code == 2, (case.id, r.code, r.err[-2000:])
    assert len(lines) == 1, (case.id, lines[:5])
    line = lines[0]
    assert "Traceback" not in r.err + r.out
    assert "Fix:" in line, (case.id, line)
    for culprit in case.culprit:
        assert culprit in line, (case.id, culprit, line)
    assert len(line) < 1000, (case.id, line[:300])  # a 100,000-character input is named, not echoed
    for s in secrets:
        assert s not in r.out and s not in r.err, (case.id, "leak")
        assert s[:16] not in r.out and s[:16] not in r.err, (case.id, "leak of a prefix")


@pytest.mark.parametrize("case", [c for c in CASES if not c.real], ids=lambda c: c.id)
def test_bad_input_against_the_sandbox(case, sandbox, tmp_path, monkeypatch):
    for name, data in case.files.items():
        (tmp_path / name).write_bytes(data)
    for k, v in case.env.items():
        monkeypatch.setenv(k, v)
    if case.state is not None:
        sandbox.path.write_bytes(case.state)
    before = sandbox.path.read_bytes()
    r = sandbox.cli(*case.args, stdin=case.stdin)
    _one_line_check(r, case, case.secrets)
    assert r.writes == []
    assert sandbox.path.read_bytes() == before  # the state file untouched
    assert not (tmp_path / "~").exists()


@pytest.fixture
def server(tmp_path):
    """`sandbox serve` on a free loopback port, in a thread; state in tmp_path/served.json."""
    import threading

    from natoma_entra.sandbox.serve import make_server

    srv = make_server(tmp_path / "served.json", port=0)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize("case", [c for c in CASES if c.real], ids=lambda c: c.id)
def test_bad_access_token_against_a_served_sandbox(case, server, tmp_path, monkeypatch, capsys):
    from natoma_entra.cli.application import Application
    from natoma_entra.cli.main import run

    for k, v in case.env.items():
        monkeypatch.setenv(k, v)
    state = tmp_path / "served.json"
    before = state.read_bytes()
    capsys.readouterr()
    try:
        run(["--auth", "access-token", "--graph-endpoint", server.url + "/v1.0", "--app", "Natoma", *case.args],
            application=Application())
        code = 0
    except SystemExit as e:
        code = e.code
    cap = capsys.readouterr()

    class R:
        pass
    r = R()
    r.code, r.out, r.err = code, cap.out, cap.err
    _one_line_check(r, case, case.secrets)
    assert state.read_bytes() == before


def test_serve_on_a_busy_port_is_exit_2(sandbox):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        before = sandbox.path.read_bytes()
        r = sandbox.cli("sandbox", "serve", "--port", str(port))
    _one_line_check(r, Case("busy", (), (f"--port {port}", "in use")), ())
    assert sandbox.path.read_bytes() == before


def test_tilde_in_the_state_path_is_the_home_directory(sandbox, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    r = sandbox.cli("--sandbox-state", "~/natoma/sandbox.json", "roles")
    assert r.code == 0, r.err
    assert (home / "natoma" / "sandbox.json").is_file()
    assert not (tmp_path / "~").exists()


def test_the_table_is_at_least_forty_cases():
    assert len(CASES) + 1 >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("text", ["a = " + "[" * 5000 + "]" * 5000 + "\n", "a = " + "{b=" * 3000 + "1" + "}" * 3000 + "\n"])
def test_a_deep_config_is_refused_whatever_the_recursion_limit(tmp_path, text):
    """tomllib recurses per level: under the default limit it stops with RecursionError; a program that raised the
    limit (mypy's API does) lets it through. Either way the file is refused with the same line."""
    import sys

    from natoma_entra.config import read_file
    from natoma_entra.errors import UsageError

    path = tmp_path / "deep.toml"
    path.write_text(text)
    for limit in (1000, 100_000):
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(limit)
        try:
            with pytest.raises(UsageError, match="nests tables or arrays too deeply"):
                read_file(path)
        finally:
            sys.setrecursionlimit(old)
