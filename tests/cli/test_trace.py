"""--trace FILE / NATOMA_ENTRA_TRACE: every Graph and SCIM exchange of a run as a JSON line, the Authorization header
dropped, secret values masked, bodies bounded; the file 0600, appended to, never a symlink followed or a
non-regular file written."""
import json
import os
import stat

import pytest

from natoma_entra import trace as trace_mod


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def exchanges(path, kind="graph") -> list[dict]:
    return [d for d in lines(path) if d["kind"] == kind]


def test_every_graph_exchange_of_a_run_is_a_line_without_authorization(sandbox, tmp_path):
    path = tmp_path / "trace.jsonl"
    r = sandbox.cli("--trace", str(path), "setup")
    assert r.code == 0, r.err
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    docs = lines(path)
    assert docs[0]["kind"] == "run" and docs[0]["natoma_entra"]
    graph = exchanges(path)
    # one line per request the sandbox answered, in the same order
    assert [(d["method"], d["status"]) for d in graph] == [(m, s) for m, _p, s in r.requests]
    for d in graph:
        assert set(d) == {"time", "kind", "method", "url", "status", "duration_ms", "request", "response"}
        assert d["url"].startswith("https://graph.microsoft.com/v1.0/") and d["duration_ms"] >= 0
        assert not any(h.lower() == "authorization" for h in d["request"]["headers"])
        assert d["request"]["headers"].get("client-request-id")  # what Microsoft support asks for
    put = next(d for d in graph if d["method"] == "PUT" and d["url"].endswith("/synchronization/secrets"))
    assert {"key": "SecretToken", "value": "***"} in put["request"]["body"]["value"]
    assert {"key": "BaseAddress", "value": "https://natoma.sandbox.test/scim/v2"} in put["request"]["body"]["value"]
    test = next(d for d in graph if d["url"].endswith("/validateCredentials"))
    assert {"key": "SecretToken", "value": "***"} in test["request"]["body"]["credentials"]
    schema = next(d for d in graph if d["method"] == "GET" and d["url"].endswith("/schema"))
    assert schema["response"]["body"]["synchronizationRules"]  # a response body, as JSON
    assert "sandbox-scim-token" not in path.read_text()


def test_scim_exchanges_are_traced_too(sandbox, tmp_path):
    assert sandbox.set_up().code == 0
    path = tmp_path / "t.jsonl"
    r = sandbox.cli("provision", "AdeleV@contoso.onmicrosoft.com", "--verify", "--trace", str(path))
    assert r.code == 0, r.err
    [scim] = exchanges(path, "scim")
    assert scim["method"] == "GET" and scim["status"] == 200
    assert scim["url"].startswith("https://natoma.sandbox.test/scim/v2/Users?filter=userName+eq+")
    assert "authorization" not in {h.lower() for h in scim["request"]["headers"]}
    assert scim["response"]["body"]["Resources"][0]["userName"] == "AdeleV@contoso.onmicrosoft.com"


def test_the_environment_variable_names_the_file_and_runs_append(sandbox, tmp_path, monkeypatch):
    path = tmp_path / "env.jsonl"
    monkeypatch.setenv("NATOMA_ENTRA_TRACE", str(path))
    assert sandbox.cli("status").code in (0, 3)
    first = len(lines(path))
    assert sandbox.cli("status").code in (0, 3)
    assert [d["kind"] for d in lines(path)].count("run") == 2 and len(lines(path)) > first


def test_an_existing_file_is_tightened_to_0600_and_kept(sandbox, tmp_path):
    path = tmp_path / "old.jsonl"
    path.write_text('{"kind": "earlier"}\n')
    path.chmod(0o644)
    assert sandbox.cli("--trace", str(path), "status").code in (0, 3)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert lines(path)[0] == {"kind": "earlier"}


def test_a_symlink_is_refused_and_its_target_untouched(sandbox, tmp_path):
    target = tmp_path / "target"
    target.write_text("keep\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    r = sandbox.cli("--trace", str(link), "status")
    assert r.code == 2 and r.requests == []
    assert r.err.strip().endswith("is a symbolic link; it is not followed. Fix: give --trace (or NATOMA_ENTRA_TRACE) "
                                  "the path of a regular file, or of a new one")
    assert target.read_text() == "keep\n"


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_a_path_that_is_not_a_regular_file_is_refused(sandbox, tmp_path, kind):
    path = tmp_path / kind
    path.mkdir() if kind == "directory" else os.mkfifo(path)
    r = sandbox.cli("--trace", str(path), "setup")
    assert r.code == 2 and r.requests == [] and "is not a regular file" in r.err


def test_a_body_is_bounded_and_secret_values_are_masked_by_key():
    big = "x" * (trace_mod.MAX_BODY + 10)
    cut = trace_mod.body_of(big.encode())
    assert cut == {"truncated": True, "chars": len(big), "text": big[:trace_mod.MAX_BODY]}
    doc = {"value": [{"key": "SecretToken", "value": "unregistered-token-0123456789abcdef"},
                     {"key": "Password", "value": "pw-0123456789abcdefgh"}, {"key": "SyncAll", "value": "false"}],
           "nested": {"credentials": [{"key": "ClientSecret", "value": "cs-0123456789abcdefgh"}]}}
    masked = trace_mod.body_of(json.dumps(doc).encode())
    assert masked == {"value": [{"key": "SecretToken", "value": "***"}, {"key": "Password", "value": "***"},
                                {"key": "SyncAll", "value": "false"}],
                      "nested": {"credentials": [{"key": "ClientSecret", "value": "***"}]}}
    assert trace_mod.body_of(b"<html>proxy</html>") == "<html>proxy</html>"
    assert trace_mod.headers_of({"Authorization": "Bearer x", "AUTHORIZATION": "y", "Cookie": "c", "Accept": "a"}) \
        == {"Accept": "a"}


def test_a_registered_secret_is_masked_anywhere_in_a_line(tmp_path):
    from natoma_entra.redact import register

    secret = "registered-secret-0123456789abcdef"
    register(secret)
    t = trace_mod.Trace(tmp_path / "r.jsonl")
    t.exchange("graph", "GET", f"https://graph.microsoft.com/v1.0/x?h={secret}", 400, 0.01, {"X-Echo": secret},
               None, {}, {"error": {"message": f"token {secret[:20]} rejected"}})
    t.close()
    text = (tmp_path / "r.jsonl").read_text()
    assert secret[:16] not in text and text.count("***") == 3
