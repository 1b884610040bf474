"""Issue 26: `export --write PATH` checks PATH before the tenant is read: a path that cannot be written is one line
on stderr naming it and the fix, exit 2, no Graph request sent and no file left; `-` prints the config; an empty
path is said as such."""
from __future__ import annotations

import os

import pytest


@pytest.fixture
def configured(sandbox):
    assert sandbox.set_up().code == 0
    return sandbox


def _refused(r, *words: str) -> None:
    assert r.code == 2, (r.code, r.err)
    assert r.requests == []  # said before the tenant was read
    assert r.err.count("\n") == 1 and r.err.startswith("error: ") and "unexpected" not in r.err, r.err
    for w in words:
        assert w in r.err, r.err


def test_a_path_that_cannot_be_written_is_said_before_any_read(configured, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    _refused(configured.cli("export", "--write", str(tmp_path / "no-such-dir" / "x.toml")), "does not exist")
    _refused(configured.cli("export", "--write", str(a_file / "x.toml")), "does not exist")
    long_name = tmp_path / ("a" * 300 + ".toml")
    _refused(configured.cli("export", "--write", str(long_name)), "cannot write", "too long")
    _refused(configured.cli("export", "--write", str(tmp_path)), f"{tmp_path} is a directory", "natoma-entra.toml")
    _refused(configured.cli("export", "--write", os.devnull), "is not a file")
    _refused(configured.cli("export", "--write", str(a_file)), "exists", "--force")
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith((".toml", ".tmp"))]  # no file left


def test_a_directory_that_refuses_a_new_file_is_said_before_any_read(configured, tmp_path, monkeypatch):
    import tempfile

    def refused(*args, **kwargs):  # what a read-only or foreign directory answers (root ignores mode bits)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    r = configured.cli("export", "--write", str(tmp_path / "x.toml"))
    _refused(r, "cannot write", "Permission denied")
    assert not (tmp_path / "x.toml").exists()


def test_an_empty_path_is_said_and_dash_prints_the_config(configured, tmp_path):
    _refused(configured.cli("export", "--write", ""), "--write needs a file path")
    printed = configured.cli("export")
    dash = configured.cli("export", "--write", "-")
    assert dash.code == 0 and dash.out == printed.out and "[groups]" in dash.out
    assert not (tmp_path / "-").exists()


def test_a_write_that_fails_after_the_reads_is_one_line_not_a_traceback(configured, tmp_path, monkeypatch):
    from natoma_entra import export

    target = tmp_path / "x.toml"

    def full(path, body, *, force):  # the disk filled up while the tenant was read
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export, "_write", full)
    r = configured.cli("export", "--write", str(target))
    assert r.code == 2 and "unexpected" not in r.err and r.err.count("\n") == 1
    assert f"cannot write {target}: No space left on device" in r.err
