"""mypy over natoma_entra/, as pyproject.toml configures it ([tool.mypy]): no error. It runs in the README's test
command (so in .ci/run), so a change that breaks a type is a failing test, not a note for later."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_finds_no_error_in_the_package(monkeypatch):
    from mypy import api

    monkeypatch.chdir(ROOT)  # the config (pyproject.toml) and its files = ["natoma_entra"] are relative to the root
    out, err, code = api.run([])
    assert code == 0, out + err
    assert out.startswith("Success: no issues found"), out
