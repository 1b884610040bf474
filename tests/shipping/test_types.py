"""mypy over natoma_entra/, as pyproject.toml configures it ([tool.mypy]): no error. It runs in the README's test
command (so in .ci/run), so a change that breaks a type is a failing test, not a note for later."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_finds_no_error_in_the_package(monkeypatch):
    from mypy import api

    monkeypatch.chdir(ROOT)  # the config (pyproject.toml) and its files = ["natoma_entra"] are relative to the root
    limit = sys.getrecursionlimit()
    try:
        out, err, code = api.run([])
    finally:
        sys.setrecursionlimit(limit)  # mypy raises it for the whole process; the tests after this one run as a CLI does
    assert code == 0, out + err
    assert out.startswith("Success: no issues found"), out
