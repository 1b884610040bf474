"""Choosing variants: SandboxOptions (tests), --sandbox-variant / NATOMA_ENTRA_SANDBOX_VARIANTS (the CLI),
`sandbox serve --variant`. An unknown name is bad usage: exit 2, the known names listed, nothing written."""
from __future__ import annotations

import pytest

from natoma_entra.sandbox.options import VARIANTS


def run_cli(capsys, *args):
    """The CLI in process with no SandboxOptions given: it builds them from its flags and environment."""
    from natoma_entra.cli.application import Application
    from natoma_entra.cli.main import run

    capsys.readouterr()
    from natoma_entra.sandbox.backend import SandboxBackend

    backend = SandboxBackend()
    application = Application(backend=backend)
    code = 0
    try:
        run(list(args), application=application)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    cap = capsys.readouterr()
    return code, cap.out, cap.err, [tenant for tenant, _ in backend.opened]


def test_flag_is_repeatable(sandbox, capsys):
    code, _, err, tenants = run_cli(capsys, "--sandbox", "--sandbox-state", str(sandbox.path), "--sandbox-variant",
                                    "secrets-masked", "status", "--sandbox-variant", "templates-unlisted")
    assert tenants and tenants[0].variants == {"secrets-masked", "templates-unlisted"}, err


def test_environment_comma_separated(sandbox, capsys, monkeypatch):
    monkeypatch.setenv("NATOMA_ENTRA_SANDBOX_VARIANTS", "slow-replication, pod-statusinfo-shape")
    _, _, err, tenants = run_cli(capsys, "--sandbox", "--sandbox-state", str(sandbox.path), "status")
    assert tenants[0].variants == {"slow-replication", "pod-statusinfo-shape"}, err


def test_all(sandbox, capsys):
    _, _, err, tenants = run_cli(capsys, "--sandbox", "--sandbox-state", str(sandbox.path), "--sandbox-variant", "all",
                                 "status")
    assert tenants[0].variants == set(VARIANTS), err


def test_flags_add_to_the_callers_options(sandbox):
    sandbox.options.denied_permissions = {"AuditLog.Read.All"}
    r = sandbox.cli("--sandbox-variant", "secrets-replace", "logs")
    assert r.code == 1  # the caller's knob still acts (403 on the logs)


@pytest.mark.parametrize("args", [("--sandbox-variant", "nope", "setup"),
                                  ("--sandbox-variant", "secrets-masked,nope", "status")])
def test_unknown_variant_exits_2_listing_the_known_ones(sandbox, capsys, args):
    before = sandbox.path.read_bytes()
    code, _, err, tenants = run_cli(capsys, "--sandbox", "--sandbox-state", str(sandbox.path), *args)
    assert code == 2 and tenants == []
    assert "nope" in err and all(name in err for name in VARIANTS)
    assert len(err.strip().splitlines()) == 1
    assert sandbox.path.read_bytes() == before


def test_unknown_variant_in_the_environment_exits_2(sandbox, capsys, monkeypatch):
    monkeypatch.setenv("NATOMA_ENTRA_SANDBOX_VARIANTS", "typo")
    code, _, err, _ = run_cli(capsys, "--sandbox", "--sandbox-state", str(sandbox.path), "status")
    assert code == 2 and "typo" in err


def test_flag_without_sandbox_is_bad_usage(capsys):
    code, _, err, _ = run_cli(capsys, "--sandbox-variant", "secrets-masked", "status")
    assert code == 2 and "--sandbox" in err


def test_serve_plays_its_variants(tmp_path, capsys):
    from natoma_entra.sandbox.options import SandboxOptions
    from natoma_entra.sandbox.serve import make_server

    srv = make_server(tmp_path / "s.json", port=0, options=SandboxOptions(variants=frozenset({"templates-unlisted"})))
    try:
        assert srv.tenant.variants == {"templates-unlisted"}
    finally:
        srv.server_close()
    code, _, err, _ = run_cli(capsys, "--sandbox-state", str(tmp_path / "s.json"), "sandbox", "serve", "--port", "0",
                              "--variant", "nope")
    assert code == 2 and "nope" in err and "templates-unlisted" in err
