"""`pytest -m "not release"` leaves out exactly the release checks (pyproject.toml's `release` marker): every test file
that uses the built package, the installed CLI, the action or the example pipelines is marked, and no other is, so
the inner loop keeps every other test. Read from the test files' source, so it holds whatever subset is run."""
from __future__ import annotations

import ast
import tomllib
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
# what only a release check uses: the fixtures of tests/shipping/conftest.py and test_action.py, the pipeline runner
RELEASE_FIXTURES = {"built", "installed", "oidc"}
RELEASE_MODULES = {"pipelines", "test_action"}


def _uses_a_release_check(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            if RELEASE_FIXTURES & {a.arg for a in node.args.args}:
                return True
        if isinstance(node, ast.ImportFrom) and node.module in RELEASE_MODULES:
            return True
    return False


def _marked_release(tree: ast.Module) -> bool:
    return any(isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark"
                                                      for t in node.targets)
               and ast.unparse(node.value) == "pytest.mark.release" for node in tree.body)


def test_the_release_marker_is_on_the_release_checks_and_nowhere_else():
    uses, marked = set(), set()
    for path in TESTS.rglob("test_*.py"):
        tree = ast.parse(path.read_text())
        name = path.relative_to(TESTS).as_posix()
        if _uses_a_release_check(tree) or name == "shipping/test_action.py":
            uses.add(name)
        if _marked_release(tree):
            marked.add(name)
    assert uses == marked
    assert {"shipping/test_package.py", "shipping/test_action.py", "shipping/test_examples.py",
            "shipping/test_example_azure.py", "shipping/test_example_tenants.py"} <= marked
    config = tomllib.loads((TESTS.parent / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert any(m.startswith("release:") for m in config["markers"])


def test_the_files_run_first_exist():
    """tests/conftest.py runs the longest files first; a file renamed away would silently run last again."""
    tree = ast.parse((TESTS / "conftest.py").read_text())
    (named,) = [ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "LONGEST_FIRST" for t in node.targets)]
    assert len(named) > 10
    assert [name for name in named if not (TESTS.parent / name).is_file()] == []
