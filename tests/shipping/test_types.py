"""mypy over natoma_entra/, as pyproject.toml configures it ([tool.mypy]): no error. It runs in the README's test
command (so in .ci/run), so a change that breaks a type is a failing test, not a note for later. mypy itself runs in
its own process, started once the tests are collected (mypy_result, tests/conftest.py)."""
from __future__ import annotations


def test_mypy_finds_no_error_in_the_package(mypy_result):
    out, err, code = mypy_result
    assert code == 0, out + err
    assert out.startswith("Success: no issues found"), out
