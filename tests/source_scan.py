"""The package's source files, each parsed once per test process, for the tests that scan the code (the flags its
messages name, the environment variables it reads, the packages it imports).

CPython 3.11 builds a parsed tree with a recursion counter kept per interpreter, not per call: a parse that overlaps
another one (a finalizer run by the garbage collector mid-parse, or another thread) fails with "SystemError: AST
constructor recursion depth mismatch" (python/cpython#106905). That is not the code under test failing, so the parse
is tried again, at most three times; any other error is raised as it is.
"""
from __future__ import annotations

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "natoma_entra"


@functools.lru_cache(maxsize=None)
def parsed(path: Path) -> ast.Module:
    source = path.read_text()
    for attempt in range(3):
        try:
            return ast.parse(source, str(path))
        except SystemError as e:
            if "recursion depth mismatch" not in str(e) or attempt == 2:
                raise
    raise AssertionError("unreachable")


def package_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))
