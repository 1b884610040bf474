"""flags > environment > config file > defaults (docs/configuration.md), end to end on the sandbox."""
from __future__ import annotations


def test_the_environment_wins_over_the_config_file_and_a_flag_over_both(sandbox, tmp_path, monkeypatch):
    """A committed file names one app; a pipeline overrides it with NATOMA_ENTRA_APP (as az, gh, kubectl)."""
    assert sandbox.set_up().code == 0
    (tmp_path / "natoma-entra.toml").write_text('app = "Natoma Staging"\n')  # no such app on the sandbox
    r = sandbox.cli("status", "-o", "json")
    assert r.code == 2 and "Natoma Staging" in r.err  # the file alone: its app is looked for
    monkeypatch.setenv("NATOMA_ENTRA_APP", "Natoma")
    r = sandbox.cli("status", "-o", "json")
    assert r.code == 0, r.err
    assert r.json()["app"]["displayName"] == "Natoma"  # the environment over the file
    r = sandbox.cli("--app", "Natoma Staging", "status", "-o", "json")
    assert r.code == 2 and "Natoma Staging" in r.err  # the flag over the environment
