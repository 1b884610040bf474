"""Every package natoma_entra imports is a declared runtime dependency (not merely present through another one), and
the versions the suite runs against satisfy the declared lower bounds."""
import ast
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from source_scan import package_files, parsed

ROOT = Path(__file__).resolve().parents[2]


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project["dependencies"]]


def imported_top_levels() -> dict[str, str]:
    """Absolute imports anywhere in natoma_entra (function bodies too): top-level module -> a file importing it."""
    found: dict[str, str] = {}
    for path in package_files():
        for node in ast.walk(parsed(path)):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def test_every_imported_package_is_a_declared_dependency():
    names = {canonicalize_name(r.name) for r in declared()}
    providers = metadata.packages_distributions()
    missing = {}
    for module, where in imported_top_levels().items():
        if module in sys.stdlib_module_names or module == "natoma_entra":
            continue
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        if not dists & names:
            missing[module] = (where, sorted(dists))
    assert not missing, f"imported but not declared in pyproject.toml dependencies: {missing}"


def test_installed_versions_meet_the_declared_bounds():
    for req in declared():
        version = metadata.version(req.name)
        assert version in req.specifier, f"{req}: the suite runs {version}"
        assert req.specifier, f"{req.name} has no lower bound"
        assert not any(s.operator in ("<", "<=", "==", "~=") for s in req.specifier), \
            f"{req}: an upper bound needs a known break (docs/dev/release.md)"
