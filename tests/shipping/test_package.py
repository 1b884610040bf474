"""The package as users get it: wheel and sdist build and pass `twine check`; the installed CLI runs on its own."""
import json
import subprocess
import sys
import tarfile
import zipfile

from pathlib import Path


import pytest

import natoma_entra

pytestmark = pytest.mark.release  # pyproject.toml: left out by `pytest -m "not release"`

ROOT = Path(__file__).resolve().parents[2]


def test_twine_check_passes_on_wheel_and_sdist(built):
    r = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(built.wheel), str(built.sdist)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("PASSED") == 2


def test_the_version_comes_from_one_place(built):
    v = natoma_entra.__version__
    assert built.wheel.name == f"natoma_entra-{v}-py3-none-any.whl" and built.sdist.name == f"natoma_entra-{v}.tar.gz"
    assert "version =" not in (ROOT / "pyproject.toml").read_text().split("[project]")[1].split("[")[0].replace(
        'dynamic = ["version"]', "")


def test_wheel_and_sdist_carry_the_sandbox_data_and_the_licence(built):
    names = zipfile.ZipFile(built.wheel).namelist()
    assert "natoma_entra/sandbox/data/scim-template-schema.json" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in names)
    assert not any(n.startswith("tests/") for n in names)
    with tarfile.open(built.sdist) as t:
        members = t.getnames()
    assert any(m.endswith("/LICENSE") for m in members) and any(m.endswith("/README.md") for m in members)


def test_installed_cli_prints_its_version_and_help(installed, tmp_path):
    r = installed.run("--version", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == f"natoma-entra {natoma_entra.__version__}", r.stderr
    r = installed.run("--help", cwd=tmp_path)
    assert r.returncode == 0 and "setup" in r.stdout and "--sandbox" in r.stdout, r.stderr


def test_installed_cli_is_the_wheel_not_the_checkout(installed, tmp_path):
    r = subprocess.run([str(installed.bin / "python"), "-c", "import natoma_entra, sys; print(natoma_entra.__file__)"],
                       cwd=tmp_path, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith(str(installed.venv)), r.stdout
    # and the test tools are not there: only declared runtime dependencies were linked in
    r = subprocess.run([str(installed.bin / "python"), "-c", "import pytest"], cwd=tmp_path, capture_output=True)
    assert r.returncode != 0


def test_installed_cli_runs_a_full_sandbox_setup(installed, tmp_path):
    state = tmp_path / "sandbox.json"
    r = installed.run("--sandbox", "--sandbox-state", str(state), "--output", "json", "setup", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout)
    assert doc["ok"] is True
    assert [s["step"] for s in doc["steps"]] == ["roles", "assign", "mapping", "credentials", "start"]
    assert all(s["status"] == "changed" for s in doc["steps"])
    # the tenant really holds the result (the sandbox's data files came with the wheel): Natoma received the users
    natoma = json.loads(state.read_text())["natoma"]["resources"]
    roles = {u["userName"]: [r["value"] for r in u.get("roles", [])] for u in natoma}
    assert roles["AdeleV@contoso.onmicrosoft.com"] == ["admin"] and roles["AlexW@contoso.onmicrosoft.com"] == ["AppAdmin"]


def test_the_wheel_carries_the_docs_pages(built):
    """`natoma-entra docs TOPIC` reads pages shipped in the wheel (natoma_entra/manual), one per topic."""
    from natoma_entra import manual

    names = set(zipfile.ZipFile(built.wheel).namelist())
    assert "natoma_entra/manual/index.py" in names
    missing = [t.name for t in manual.TOPICS if f"natoma_entra/manual/pages/{t.name}.md" not in names]
    assert not missing, f"pages missing from the wheel: {missing}"
    assert {"auth", "permissions", "troubleshooting", "graph-assumptions", "configuration"} <= {t.name for t in manual.TOPICS}


def test_installed_cli_prints_a_docs_page_without_the_repository(installed, tmp_path):
    from natoma_entra import manual

    r = installed.run("docs", "auth", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("# Authentication\n") and "--auth" in r.stdout
    assert r.stdout.rstrip().endswith(f"Online: {manual.SITE_URL}auth/")
    r = installed.run("docs", cwd=tmp_path)
    assert r.returncode == 0 and all(f"  {t.name} " in r.stdout for t in manual.TOPICS), r.stdout
