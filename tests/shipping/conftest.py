"""The built package, installed (not editable) into a fresh virtual environment.

Installing every dependency from the index would take minutes. Instead the fresh environment's site-packages gets
symlinks to exactly the distributions the wheel declares (its Requires-Dist, followed recursively, no extras) as they
are installed in this test environment, and nothing else: not the editable natoma_entra, not the test tools. So the
installed CLI runs only from the package's own files and its declared runtime dependencies.
"""
from __future__ import annotations

import os
import contextlib
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from email.parser import Parser
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
# what a source distribution is made from; everything else (tests, docs, .venv) stays out of the copy
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "natoma_entra")


@dataclass
class Built:
    wheel: Path
    sdist: Path


@dataclass
class Installed:
    venv: Path
    wheel: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def run(self, *args: str, cwd: Path, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.bin / "natoma-entra"), *args], cwd=cwd, env=clean_env(cwd, env),
                              capture_output=True, text=True, timeout=timeout)


def clean_env(home: Path, extra: dict | None = None) -> dict:
    """An environment like a fresh shell's: no PYTHONPATH, no project venv on PATH, no natoma/azure settings."""
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    # the base interpreter's bin first, as actions/setup-python leaves a hosted runner: `python3` in a step is a
    # Python, not a version manager's shim (pyenv's costs a dozen processes per call)
    base_bin = str(Path(sys.base_prefix) / "bin")
    env["PATH"] = os.pathsep.join([base_bin, *(p for p in env.get("PATH", "").split(os.pathsep)
                                               if not p.startswith(str(ROOT)) and p != base_bin)])
    env.update({"HOME": str(home), "XDG_STATE_HOME": str(home / "state"), "NO_COLOR": "1", "COLUMNS": "200"})
    env.update(extra or {})
    return env


def runtime_requirements(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(z.read(name).decode())
    reqs = [Requirement(r) for r in meta.get_all("Requires-Dist") or []]
    return [r for r in reqs if r.marker is None or r.marker.evaluate({"extra": ""})]


def dependency_closure(reqs: list[Requirement]) -> list[metadata.Distribution]:
    """The installed distributions the requirements pull in, recursively (markers evaluated, extras followed)."""
    seen: dict[str, metadata.Distribution] = {}
    todo = [(r, frozenset(r.extras)) for r in reqs]
    while todo:
        req, extras = todo.pop()
        dist = metadata.distribution(req.name)  # PackageNotFoundError: a declared dependency is not installed
        assert dist.version in req.specifier or not req.specifier, f"{req} but {dist.version} is installed"
        key = dist.metadata["Name"].lower()
        if key in seen:
            continue
        seen[key] = dist
        for text in dist.requires or []:
            sub = Requirement(text)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in (extras or {""})):
                todo.append((sub, frozenset(sub.extras)))
    return list(seen.values())


def link_distributions(dists: list[metadata.Distribution], site: Path) -> None:
    """Symlink each distribution's top-level files into site; a namespace directory (azure/) is made real and
    only this distribution's entries are linked inside it."""
    for dist in dists:
        base = Path(dist.locate_file(""))
        for f in dist.files or []:
            parts = Path(f).parts
            if not parts or parts[0] == ".." or parts[0] == "__pycache__":
                continue
            top = base / parts[0]
            if top.is_dir() and not (top / "__init__.py").exists() and not parts[0].endswith(".dist-info") \
                    and len(parts) > 2:
                (site / parts[0]).mkdir(exist_ok=True)
                target, link = top / parts[1], site / parts[0] / parts[1]
            else:
                target, link = top, site / parts[0]
            if not link.exists() and not link.is_symlink() and target.exists():
                link.symlink_to(target)


@pytest.fixture
def shell_env():
    """clean_env, for tests that run shell steps."""
    return clean_env


@contextlib.contextmanager
def _once(tmp_path_factory, name: str):
    """A directory shared by every pytest-xdist worker of this run, made by the first that gets the lock: the wheel
    is built and installed once per suite run, not once per worker. Yields (path, already made)."""
    import fcntl

    # the run's base temp, the same for all workers: under xdist each worker's basetemp is a directory of it;
    # without xdist basetemp is the run's own (its parent holds every run's, and another tree's wheel)
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    path = shared / name
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = path / ".done"
        if done.exists():
            yield path, True
            return
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        yield path, False
        done.touch()


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Built:
    """`python -m build` on a copy of the sources: the sdist, then the wheel built from that sdist."""
    with _once(tmp_path_factory, "built") as (src, made):
        if not made:
            _build(src)
    out = src / "dist"
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return Built(wheel, sdist)


def _build(src: Path) -> None:
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, src / name)
    out = src / "dist"
    # --no-isolation: the build backend (setuptools, from the test extra) is already here; the index is not needed
    # --skip-dependency-check: not two more processes asking the backend what it needs (it is installed: the test extra)
    r = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--skip-dependency-check", "--outdir", str(out),
                        str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]


@pytest.fixture(scope="session")
def installed(built, tmp_path_factory) -> Installed:
    with _once(tmp_path_factory, "venv") as (root, made):
        if not made:
            _install(built, root / "fresh")
    return Installed(root / "fresh", built.wheel)


def _install(built: Built, venv: Path) -> None:
    """The wheel installed as pip installs it (its files, entry-point script, RECORD, bytecode), by installer: the
    PyPA's library that does exactly that step, in this process. `pip --python` started pip twice (~1.5 s)."""
    import json

    from installer import install
    from installer.destinations import SchemeDictionaryDestination
    from installer.sources import WheelFile

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    paths = json.loads(subprocess.run([str(python), "-c", "import json, sysconfig; print(json.dumps(sysconfig.get_paths()))"],
                                      capture_output=True, text=True, check=True).stdout)
    link_distributions(dependency_closure(runtime_requirements(built.wheel)), Path(paths["purelib"]))
    scheme = {key: paths[key] for key in ("purelib", "platlib", "scripts", "data")}
    scheme["headers"] = str(venv / "include")
    destination = SchemeDictionaryDestination(scheme, interpreter=str(python), script_kind="posix",
                                              bytecode_optimization_levels=(0,))
    with WheelFile.open(built.wheel) as source:
        install(source, destination, additional_metadata={"INSTALLER": b"installer\n"})
