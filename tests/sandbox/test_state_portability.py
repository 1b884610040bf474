"""The sandbox's state on every system (issue 26): its writer lock through filelock (fcntl alone left Windows, or any
system without fcntl, unlocked) and its default place from platformdirs (the user's state directory on Linux,
macOS and Windows)."""
from __future__ import annotations

import sys
import threading
from pathlib import Path


def test_the_writer_lock_excludes_a_second_writer_without_fcntl(tmp_path, monkeypatch):
    import filelock  # noqa: F401  (imported as it is on this system first: its lock class is chosen once)

    from natoma_entra.sandbox.state import state_lock

    monkeypatch.setitem(sys.modules, "fcntl", None)  # a system without fcntl (Windows): `import fcntl` fails
    path = tmp_path / "sandbox.json"
    inside, order = threading.Event(), []
    release = threading.Event()

    def first() -> None:
        with state_lock(path):
            order.append("first in")
            inside.set()
            release.wait(10)
            order.append("first out")

    def second() -> None:
        inside.wait(10)
        with state_lock(path):
            order.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    inside.wait(10)
    threads[1].join(0.3)  # the second writer is still waiting for the lock
    assert order == ["first in"]
    release.set()
    for t in threads:
        t.join(10)
    assert order == ["first in", "first out", "second in"]


def test_the_lock_is_reentrant_within_a_thread(tmp_path):
    from natoma_entra.sandbox.state import state_lock

    with state_lock(tmp_path / "s.json"):
        with state_lock(tmp_path / "s.json"):  # Tenant.locked holds it; save takes it again
            pass


def test_the_default_state_path_is_the_systems_state_directory(monkeypatch, tmp_path):
    import platformdirs
    from platformdirs.macos import MacOS
    from platformdirs.unix import Unix

    from natoma_entra.sandbox.backend import default_state_path

    monkeypatch.setattr(platformdirs, "PlatformDirs", Unix)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_state_path() == tmp_path / "xdg" / "natoma-entra" / "sandbox.json"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_state_path() == Path.home() / ".local" / "state" / "natoma-entra" / "sandbox.json"
    monkeypatch.setattr(platformdirs, "PlatformDirs", MacOS)
    assert default_state_path() == Path.home() / "Library" / "Application Support" / "natoma-entra" / "sandbox.json"
    # Windows (%LOCALAPPDATA%\natoma-entra) is platformdirs' Windows class, which asks the Windows API: not here
