"""-v: one line per request with its duration; --debug: every library's log too; `version` for bug reports."""
from __future__ import annotations

import re


def test_verbose_logs_each_request_once_with_its_duration(sandbox):
    assert sandbox.set_up().code == 0
    r = sandbox.cli("-v", "status")
    assert r.code == 0, r.err
    graph = [line for line in r.err.splitlines() if line.startswith("natoma_entra.graph: ")]
    assert len(graph) == len(r.requests) > 5  # one line per request the sandbox saw, not two
    assert all(re.search(r" -> \d{3} \(\d+ ms\)$", line) for line in graph), graph
    assert not [line for line in r.err.splitlines() if line.startswith("httpx:")]  # its own line said each twice


def test_debug_adds_the_libraries_logs_and_implies_verbose(sandbox):
    assert sandbox.set_up().code == 0
    r = sandbox.cli("--debug", "status")
    assert r.code == 0, r.err
    lines = r.err.splitlines()
    assert any(line.startswith("httpx: HTTP Request: GET ") for line in lines)
    assert len([line for line in lines if line.startswith("natoma_entra.graph: ")]) == len(r.requests)
    assert "--debug" in sandbox.cli("--help").out


def test_version_lists_the_key_dependencies_and_python(sandbox):
    import platform
    from importlib.metadata import version

    from natoma_entra import __version__

    r = sandbox.cli("version", "-o", "json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["command"] == "version" and doc["ok"] is True and doc["natoma-entra"] == __version__
    assert doc["python"]["version"] == platform.python_version()
    for name in ("msgraph-sdk", "azure-identity", "azure-core", "httpx", "typer", "rich", "pydantic", "scim2-client"):
        assert doc["dependencies"][name] == version(name), name
    text = sandbox.cli("version").out
    assert text.startswith(f"natoma-entra {__version__}\n") and f"Python {platform.python_version()}" in text
    assert re.search(rf"^msgraph-sdk +{re.escape(version('msgraph-sdk'))}$", text, re.M)
    assert sandbox.cli("--version").out == f"natoma-entra {__version__}\n"  # --version stays one line
